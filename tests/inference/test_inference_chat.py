"""`therapeutic-moe chat` with piped stdin: replies, /experts, /reset, /quit, crisis marking."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import REPO_ROOT
from inference_helpers import CRISIS_TEXT, make_model_dir, real_safety_available


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    path = make_model_dir(tmp_path_factory.mktemp("chat"))
    (path / "run_config").mkdir()
    (path / "run_config" / "moe_training_config.json").write_text(json.dumps({"system_prompt": "Be kind."}))
    return path


def chat(model_dir, lines, *extra):
    cmd = [sys.executable, "-m", "therapeutic_moe", "chat", str(model_dir), "--device", "cpu",
           "--max-context-length", "512", "--max-new-tokens", "6", "--seed", "0", *extra]
    return subprocess.run(cmd, input="\n".join(lines) + "\n", capture_output=True, text=True, cwd=REPO_ROOT,
                          timeout=120)


@pytest.mark.skipif(not real_safety_available(), reason="chat refuses to run without the safety layer")
def test_piped_chat_conversation(model_dir):
    lines = ["hello there", "/experts", "how are you", "/bogus", "/reset", CRISIS_TEXT, "/quit", "never read"]
    result = chat(model_dir, lines)
    assert result.returncode == 0, result.stderr
    out = result.stdout.splitlines()
    assert "(expert display on)" in out and "(conversation reset)" in out
    assert any(line.startswith("(unknown command /bogus") for line in out)
    shares = [line for line in out if line.startswith("experts: ")]
    assert len(shares) == 2  # after "how are you" and after the crisis message, not after "hello there"
    assert "psychology" in shares[0] or "mental_health" in shares[0]
    assert any(line.startswith("[crisis reply: risk level") for line in out)
    assert "988" in result.stdout
    assert "context: 512 tokens" in result.stderr and "commands:" in result.stderr


def test_chat_help_documents_the_commands(capsys):
    from therapeutic_moe.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["chat", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for flag in ("--show-experts", "--max-new-tokens", "/experts", "/reset", "/quit"):
        assert flag in out


def test_missing_model_dir_is_one_error_line(tmp_path, capsys):
    from therapeutic_moe.cli import main

    assert main(["chat", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "no such model directory" in err and len(err.strip().splitlines()) == 1
