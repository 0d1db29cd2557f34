"""The table of bad inputs the command line must refuse with exit 2 and one clear ``error:`` line.

Each case prepares its files in its own directory and gives the argv; ``names`` are the
file names / fields the message must mention so a person knows what to fix. Known bugs carry
``bug`` (the test is a strict xfail until the owner fixes it).
"""

from __future__ import annotations

import json
import pickle
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

from therapeutic_moe.training.checkpoint import write_checkpoint

MARKER = "pickle-was-executed"


@dataclass
class Case:
    id: str
    argv: Callable[[Path, dict], list[str]]  # (case dir, fixtures) -> argv after `therapeutic-moe`
    names: list[str]
    setup: Callable[[Path, dict], None] = lambda d, fx: None
    bug: str | None = None
    fresh: bool = False  # also run in a fresh interpreter (python -m therapeutic_moe)
    extra: dict = field(default_factory=dict)


class ExecutesWhenUnpickled:
    """Unpickling this runs code that creates a marker file: proof that a pickle was executed."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('executed')",))


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    (path.write_bytes if isinstance(text, bytes) else path.write_text)(text)
    return path


def jwrite(path: Path, value) -> Path:
    return write(path, json.dumps(value))


# --- train: config files and flags ---------------------------------------------------------

def train(*extra: str):
    def argv(d: Path, fx: dict) -> list[str]:
        config = d / "config.json" if (d / "config.json").exists() else fx["good_config"]
        safety = d / "safety.json" if (d / "safety.json").exists() else fx["safety"]
        wandb = ["--wandb_config", str(d / "wandb.json")] if (d / "wandb.json").exists() else []
        return ["train", "--config", str(config), "--safety_config", str(safety), *wandb,
                "--output_dir", str(d / "out"), *[a.format(d=d, **fx) for a in extra]]
    return argv


def config_file(value, raw: str | None = None):
    def setup(d: Path, fx: dict) -> None:
        if raw is not None:
            write(d / "config.json", raw)
        else:
            base = json.loads(Path(fx["good_config"]).read_text())
            if isinstance(value, dict):
                jwrite(d / "config.json", base | value)
            else:
                jwrite(d / "config.json", value)
    return setup


def side_file(name: str, value):
    return lambda d, fx: jwrite(d / name, value)


def fake_checkpoint(d: Path, fx: dict) -> None:
    write_checkpoint(d / "ckpts", 1, lambda t: write(t / "optimizer.pt", b"x" * 64))
    write(d / "ckpts" / "checkpoint-1" / "optimizer.pt", b"x" * 10)


DEEP = "[" * 100_000

TRAIN_CASES = [
    Case("config-missing", lambda d, fx: ["train", "--config", str(d / "nope.json")], ["nope.json"], fresh=True),
    Case("config-syntax-error", train(), ["config.json", "line 1"], config_file(None, '{"learning_rate": 1e-4,,}')),
    Case("config-unknown-key", train(), ["lerning_rate", "learning_rate"], config_file({"lerning_rate": 1e-4})),
    Case("config-string-for-float", train(), ["learning_rate"], config_file({"learning_rate": "fast"})),
    Case("config-float-for-int", train(), ["max_steps"], config_file({"max_steps": 1.5})),
    Case("config-zero-batch", train(), ["per_device_train_batch_size"],
         config_file({"per_device_train_batch_size": 0})),
    Case("config-not-an-object", train(), ["config.json"], config_file([1, 2])),
    Case("config-expert-count-contradiction", train(), ["num_experts"],
         config_file({"num_experts": 3, "expert_domains": ["a", "b", "c", "d"]})),
    Case("config-top-k-above-experts", train(), ["top_k"], config_file({"top_k": 9})),
    Case("config-nested-too-deeply", train(), ["config.json"], config_file(None, DEEP)),
    Case("flag-unknown", train("--lerning_rate", "1e-4"), ["lerning_rate"], fresh=True),
    Case("flag-int-not-a-number", train("--max_steps", "ten"), ["max_steps", "ten"]),
    Case("flag-without-value", train("--learning_rate"), ["learning_rate"]),
    Case("flag-bad-bool", train("--packing", "maybe"), ["packing", "maybe"]),
    Case("flag-bad-json-list", train("--expert_domains", "[1,"), ["expert_domains"]),
    Case("wandb-online-without-permission", train(), ["mode", "allow_remote_logging"],
         side_file("wandb.json", {"mode": "online"})),
    Case("wandb-unknown-key", train(), ["projekt"], side_file("wandb.json", {"projekt": "x"})),
    Case("safety-unknown-pii-kind", train(), ["pii_kinds", "bogus"], side_file("safety.json", {"pii_kinds": ["bogus"]})),
    Case("safety-file-missing", train("--safety_config", "{d}/nope-safety.json"), ["nope-safety.json"]),
    Case("margin-uses-whole-budget", train("--max_hours", "0.5"), ["time_limit_margin_minutes"],
         side_file("safety.json", {"time_limit_margin_minutes": 60, "pii_kinds": ["email"]})),
    Case("resume-missing-directory", train("--resume_from_checkpoint", "{d}/nowhere"), ["nowhere"]),
    Case("resume-damaged-checkpoint", train("--resume_from_checkpoint", "{d}/ckpts/checkpoint-1"),
         ["checkpoint-1", "damaged"], fake_checkpoint, fresh=True),
]

# --- data ----------------------------------------------------------------------------------


def check(name: str = "data.json"):
    return lambda d, fx: ["data", "check", str(d / name), "--base-model", str(fx["base"])]


def data_file(content, name: str = "data.json"):
    def setup(d: Path, fx: dict) -> None:
        if isinstance(content, (str, bytes)):
            write(d / name, content)
        else:
            jwrite(d / name, content)
    return setup


def conv(**record):
    return {"conversations": [record]}


GOOD_TEXT = "Client: I feel low.\nTherapist: I hear you."

DATA_CASES = [
    Case("data-missing-file", check("nothere.json"), ["nothere.json"]),
    Case("data-not-utf8", check(), ["data.json:1:"], data_file('{"conversations": [{"text": "caf\xe9"}]}'.encode("latin-1"))),
    Case("data-invalid-json", check(), ["data.json:2:"], data_file('{"conversations": [\n{"text": }]}')),
    Case("data-text-not-string", check(), ["data.json[0]", "'text'"], data_file(conv(text=5)), fresh=True),
    Case("data-empty-file", check(), ["data.json", "empty"], data_file("")),
    Case("data-unknown-role", check(), ["messages[1]", "role"],
         data_file(conv(messages=[{"role": "user", "content": "hi"}, {"role": "bot", "content": "hello"}]))),
    Case("data-no-assistant-turn", check(), ["data.json[0]", "assistant"],
         data_file(conv(messages=[{"role": "user", "content": "hi"}]))),
    Case("data-empty-list", check(), ["data.json", "empty"], data_file({"conversations": []})),
    Case("data-directory-without-files", check("folder"), ["folder"], lambda d, fx: (d / "folder").mkdir()),
    Case("data-jsonl-bad-line", check("data.jsonl"), ["data.jsonl:3"],
         data_file(json.dumps({"text": GOOD_TEXT}) + "\n" + json.dumps({"text": GOOD_TEXT}) + "\n{oops\n", "data.jsonl")),
    Case("data-domain-not-string", check(), ["data.json[0]", "'domain'"], data_file(conv(text=GOOD_TEXT, domain=["a"]))),
    Case("data-text-and-messages", check(), ["data.json[0]", "both"],
         data_file(conv(text=GOOD_TEXT, messages=[{"role": "user", "content": "x"}]))),
    Case("data-nested-too-deeply", check(), ["data.json"], data_file(DEEP)),
    Case("train-data-text-not-string", train("--dataset", "{d}/data.json"), ["data.json[0]", "'text'"],
         data_file(conv(text=5))),
    Case("train-data-unknown-domain", train("--dataset", "{d}/data.json"), ["data.json[0]", "domain", "grief"],
         data_file({"conversations": [{"text": GOOD_TEXT, "domain": "grief"}] * 4})),
]

# --- trained model directories -------------------------------------------------------------


def model_copy(edit: Callable[[Path, Path], None] | None = None):
    """Copy the trained tiny model into the case directory, then damage it with ``edit(dir, case_dir)``."""
    def setup(d: Path, fx: dict) -> None:
        shutil.copytree(fx["model"], d / "model", ignore=shutil.ignore_patterns("checkpoint-*", "*.png"))
        if edit is not None:
            edit(d / "model", d)
    return setup


def edit_json(name: str, change: Callable[[dict], None]):
    def edit(model: Path, d: Path) -> None:
        data = json.loads((model / name).read_text())
        change(data)
        jwrite(model / name, data)
    return edit


def torch_pickle(model: Path, d: Path) -> None:
    torch.save({"layers.0.router.weight": ExecutesWhenUnpickled(d / MARKER)}, model / "moe_layers.pt")


def raw_pickle(model: Path, d: Path) -> None:
    write(model / "moe_layers.pt", pickle.dumps({"layers.0.router.weight": ExecutesWhenUnpickled(d / MARKER)}))


def truncate(name: str, keep: int = 100):
    return lambda model, d: write(model / name, (model / name).read_bytes()[:keep])


def chat(d: Path, fx: dict) -> list[str]:
    return ["chat", str(d / "model"), "--device", "cpu"]


def serve(d: Path, fx: dict) -> list[str]:
    return ["serve", str(d / "model"), "--device", "cpu", "--port", "0"]


def evaluate(d: Path, fx: dict) -> list[str]:
    return ["evaluate", str(d / "model"), "--dataset", str(fx["data"]), "--no-baseline", "--no-plots",
            "--device", "cpu", "--out", str(d / "eval")]


def add_domain(data: dict) -> None:
    data["expert_domains"] = data["expert_domains"] + ["grief"]
    data.pop("num_experts", None)
    data.pop("domain_to_expert", None)


MODEL_CASES = [
    Case("model-dir-missing", lambda d, fx: ["chat", str(d / "nothere")], ["nothere"]),
    Case("model-dir-not-a-model", chat, ["moe_config.json"], lambda d, fx: (d / "model").mkdir()),
    Case("model-moe-config-invalid-json", chat, ["moe_config.json", "line 1"],
         model_copy(lambda m, d: write(m / "moe_config.json", "{oops"))),
    Case("model-pickled-moe-weights-torch-format", chat, ["moe_layers.pt"], model_copy(torch_pickle), fresh=True,
         extra={"marker": True}),
    Case("model-pickled-moe-weights-raw-pickle", chat, ["moe_layers.pt"], model_copy(raw_pickle),
         extra={"marker": True}),
    Case("serve-pickled-moe-weights", serve, ["moe_layers.pt"], model_copy(torch_pickle), extra={"marker": True}),
    Case("evaluate-pickled-moe-weights", evaluate, ["moe_layers.pt"], model_copy(raw_pickle), extra={"marker": True}),
    Case("model-expert-count-mismatch", chat, ["moe_layers.pt", "5 experts"],
         model_copy(edit_json("moe_config.json", add_domain)), fresh=True),
    Case("evaluate-expert-count-mismatch", evaluate, ["moe_layers.pt", "5 experts"],
         model_copy(edit_json("moe_config.json", add_domain))),
    Case("model-moe-weights-truncated", chat, ["moe_layers.pt"], model_copy(truncate("moe_layers.pt"))),
    Case("model-moe-weights-missing", chat, ["moe_layers.pt"], model_copy(lambda m, d: (m / "moe_layers.pt").unlink())),
    Case("model-top-k-above-experts", chat, ["moe_config.json", "top_k"],
         model_copy(edit_json("moe_config.json", lambda c: c.update(top_k=9)))),
    Case("model-expert-rank-string", chat, ["moe_config.json"],
         model_copy(edit_json("moe_config.json", lambda c: c.update(expert_r="4")))),
    Case("model-base-model-missing", chat, ["base_model", "nonexistent"],
         model_copy(edit_json("moe_config.json", lambda c: c.update(base_model="/nonexistent/base")))),
    Case("model-expert-rank-float", chat, ["moe_config.json", "expert_r"],
         model_copy(edit_json("moe_config.json", lambda c: c.update(expert_r=4.5)))),
    Case("model-adapter-weights-truncated", chat, ["adapter_model.safetensors"],
         model_copy(truncate("adapter_model.safetensors"))),
    Case("model-adapter-config-invalid-json", chat, ["adapter_config.json"],
         model_copy(lambda m, d: write(m / "adapter_config.json", "{oops"))),
    Case("model-adapter-rank-mismatch", chat, ["adapter"],
         model_copy(edit_json("adapter_config.json", lambda c: c.update(r=8)))),
    Case("model-moe-config-nested-too-deeply", chat, ["moe_config.json"],
         model_copy(lambda m, d: write(m / "moe_config.json", DEEP))),
]

# --- resume with a model of another shape --------------------------------------------------


def resume_with(*flags: str):
    def argv(d: Path, fx: dict) -> list[str]:
        return ["train", "--config", str(fx["good_config"]), "--safety_config", str(fx["safety"]), "--output_dir",
                str(d / "run"), "--max_steps", "3", "--resume_from_checkpoint", "latest", *flags]
    return argv


def copy_run(d: Path, fx: dict) -> None:
    shutil.copytree(fx["model"], d / "run", ignore=shutil.ignore_patterns("*.png"))


RESUME_CASES = [
    Case(f"resume-changed-{name}", resume_with(*flags), names, copy_run)
    for name, flags, names in [
        ("lora-rank", ("--lora_r", "8"), ["checkpoint", "lora_r"]),
        ("expert-rank", ("--expert_r", "2"), ["checkpoint", "expert_r"]),
        ("moe-off", ("--use_moe", "false"), ["checkpoint", "use_moe"]),
        ("expert-count", ("--expert_domains", "psychology,mental_health,bias_detection,general_therapeutic,grief"),
         ["checkpoint", "expert"]),
    ]
]

# --- argparse-level mistakes ---------------------------------------------------------------

ARGPARSE_CASES = [
    Case("serve-port-not-a-number", lambda d, fx: ["serve", str(fx["model"]), "--port", "abc"], ["--port", "abc"]),
    Case("serve-without-model-dir", lambda d, fx: ["serve"], ["MODEL_DIR"]),
    Case("unknown-command", lambda d, fx: ["trian"], ["trian"]),
    Case("serve-zero-concurrency", lambda d, fx: ["serve", str(fx["model"]), "--max-concurrent", "0"],
         ["max_concurrent"]),
]

ALL_CASES = TRAIN_CASES + DATA_CASES + MODEL_CASES + RESUME_CASES + ARGPARSE_CASES
