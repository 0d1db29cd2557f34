"""The command line itself: which commands exist, both option spellings, help that is fast and says each default once."""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from therapeutic_moe.cli import COMMAND_MODULES, build_parser, main

ROOT = Path(__file__).resolve().parents[1]
HEAVY_MODULES = ("torch", "transformers", "peft", "datasets", "fastapi", "matplotlib")


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def all_parsers(parser=None, name="therapeutic-moe"):
    """(name, parser) for the top-level parser and every nested sub-command parser."""
    parser = parser or build_parser()
    yield name, parser
    for sub_name, sub in subcommands(parser).items():
        yield from all_parsers(sub, f"{name} {sub_name}")


def help_commands() -> list[list[str]]:
    return [name.split()[1:] for name, _ in all_parsers()]


def test_the_cli_lists_exactly_the_registered_commands(capsys):
    expected = [command for commands in COMMAND_MODULES.values() for command in commands]
    assert list(subcommands(build_parser())) == expected
    with pytest.raises(SystemExit):
        main(["--help"])
    listed = re.findall(r"^    (\S+)(?:\s|$)", capsys.readouterr().out, flags=re.MULTILINE)
    assert listed == expected


@pytest.mark.parametrize("name, parser", list(all_parsers()), ids=lambda v: v if isinstance(v, str) else "")
def test_every_long_option_takes_both_spellings(name, parser):
    parser.add_spelling_aliases()
    for action in parser._actions:
        for option in action.option_strings:
            if option.startswith("--"):
                for spelling in ("--" + option[2:].replace("_", "-"), "--" + option[2:].replace("-", "_")):
                    assert parser._option_string_actions.get(spelling) is action, (name, spelling)


@pytest.mark.parametrize("name, parser", list(all_parsers()), ids=lambda v: v if isinstance(v, str) else "")
def test_help_states_each_default_at_most_once(name, parser):
    # `evaluate --help` once printed "(default: the model's max_seq_length) (default: None)":
    # a help text that states its default must get nothing appended, one that does not gets it once.
    assert not issubclass(parser.formatter_class, argparse.ArgumentDefaultsHelpFormatter), name
    formatter = parser._get_formatter()
    for action in parser._actions:
        if action.help and action.help is not argparse.SUPPRESS:
            own = action.help % {**vars(action), "prog": parser.prog}
            text = formatter._expand_help(action)
            if "default" in action.help.lower():
                assert text == own, (name, action.dest, text)
            else:
                assert text.count("(default") <= 1, (name, action.dest, text)


def test_train_takes_kebab_and_snake_spellings(tmp_path, capsys):
    missing = tmp_path / "nope.json"
    assert main(["train", "--wandb-config", str(missing), "--learning-rate", "1e-4"]) == 2
    err = capsys.readouterr().err
    assert f"{missing}: file not found" in err and "unknown option" not in err
    assert main(["train", "--safety_config", str(missing), "--learning_rate", "x"]) == 2
    err = capsys.readouterr().err
    assert f"{missing}: file not found" in err and "--learning_rate" in err


def test_other_commands_take_snake_spellings(tmp_path, capsys):
    args, extra = build_parser().parse_known_args(
        ["evaluate", "m", "--dataset", "d", "--max_seq_length", "64", "--no_plots", "--context_lengths=none"])
    assert (args.max_seq_length, args.no_plots, args.context_lengths, extra) == (64, True, "none", [])
    args, _ = build_parser().parse_known_args(["serve", "m", "--max_concurrent", "3", "--api_key", "k"])
    assert (args.max_concurrent, args.api_key) == (3, "k")
    args, _ = build_parser().parse_known_args(["data", "check", "x.json", "--max_seq_length", "64"])
    assert args.max_seq_length == 64


def test_abbreviated_options_are_refused(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["evaluate", "m", "--dataset", "d", "--max-seq", "64"])
    assert exc.value.code == 2 and "unrecognized arguments: --max-seq" in capsys.readouterr().err


def test_stray_arguments_outside_train_are_refused(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["data", "check", "x.json", "--learning_rate", "1"])
    assert exc.value.code == 2 and "unrecognized arguments" in capsys.readouterr().err


_HELP_PROBE = """
import json, sys, time
start = time.perf_counter()
from therapeutic_moe.cli import main
try:
    main(sys.argv[1:] + ["--help"])
except SystemExit:
    pass
heavy = sorted(m for m in sys.modules if m.split(".")[0] in {heavy})
print(json.dumps({{"heavy": heavy, "seconds": time.perf_counter() - start}}), file=sys.stderr)
"""


def run_help(command: list[str]) -> dict:
    code = _HELP_PROBE.format(heavy=set(HEAVY_MODULES))
    proc = subprocess.run([sys.executable, "-c", code, *command], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "usage: therapeutic-moe" in proc.stdout, proc.stderr
    return json.loads(proc.stderr.strip().splitlines()[-1])


@pytest.mark.parametrize("command", help_commands(), ids=lambda c: " ".join(c) or "top")
def test_help_imports_no_heavy_library(command):
    assert run_help(command)["heavy"] == []


def test_help_returns_in_under_a_second():
    # Whole process, interpreter start included; the best of three so that a busy machine
    # (other tests, other processes on 2 cores) cannot fail it by one slow run.
    timings = []
    for _ in range(3):
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "therapeutic_moe", "train", "--help"],
                              capture_output=True, text=True, timeout=120)
        timings.append(time.perf_counter() - start)
        assert proc.returncode == 0
    assert min(timings) < 1.0, timings


def test_the_guide_script_is_the_train_command():
    proc = subprocess.run([sys.executable, str(ROOT / "train_moe_h100.py"), "--help"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "usage: therapeutic-moe train" in proc.stdout and "--help-config" in proc.stdout
    proc = subprocess.run([sys.executable, str(ROOT / "train_moe_h100.py"), "--lerning_rate", "1"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and 'did you mean "learning_rate"' in proc.stderr and "Traceback" not in proc.stderr


def test_chat_mirrors_the_samplers_repetition_penalty():
    from therapeutic_moe.inference import cli
    from therapeutic_moe.inference.generation import DEFAULT_REPETITION_PENALTY

    assert cli.DEFAULT_REPETITION_PENALTY == DEFAULT_REPETITION_PENALTY
