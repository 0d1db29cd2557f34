"""scripts/prepare_quality_data.py: the held-out long sessions never reach training."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import REPO_ROOT

SCRIPT = REPO_ROOT / "scripts" / "prepare_quality_data.py"


def _write(path, texts):
    path.write_text(json.dumps({"conversations": [{"text": t, "topic": "anxiety"} for t in texts]}))


def test_longest_sessions_are_held_out_for_long_context(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    _write(src / "counselchat_train.json", ["Client: a\nTherapist: b"])
    _write(src / "counselchat_val.json", ["Client: c\nTherapist: d"])
    high = [f"Client: hi\nTherapist: {'x' * n}" for n in (10, 500, 40, 300)]
    _write(src / "annomi_high.json", high)
    _write(src / "annomi_low.json", ["Client: lo\nTherapist: y"])
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, str(SCRIPT), str(src), "--out", str(out), "--hold-out-long", "2"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    train = [c["text"] for c in json.loads((out / "train" / "annomi_high.json").read_text())["conversations"]]
    long_eval = [c["text"] for c in json.loads((out / "long_eval.json").read_text())["conversations"]]
    assert train == [high[0], high[2]]  # order kept, the two longest removed
    assert long_eval == [high[1], high[3], "Client: lo\nTherapist: y"]
    assert not set(train) & set(long_eval)
    assert (out / "val" / "counselchat_val.json").is_file() and (out / "train" / "counselchat_train.json").is_file()


def test_missing_files_are_one_clear_error(tmp_path):
    proc = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path), "--out", str(tmp_path / "o")],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "missing counselchat_train.json" in proc.stderr and "Traceback" not in proc.stderr
