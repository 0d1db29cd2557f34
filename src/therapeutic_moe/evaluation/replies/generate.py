"""Replies of one model to the held-out questions, through the project's own inference API.

Every reply goes through ``TherapistAssistant``: the model's chat template and trained
system prompt, the sampler's defaults, the crisis layer before generation and the output
screen after it, exactly as chat and serve answer. ``base:DIR`` answers with the same
directory's base model (attention LoRA off, experts bypassed) through the same assistant,
so the two differ only in the trained weights.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from therapeutic_moe.errors import ConfigError, DataError
from therapeutic_moe.inference.cli import DEFAULT_REPETITION_PENALTY  # the sampler's, without torch

BASE_PREFIX = "base:"
REPLY_FILE_SUFFIX = ".jsonl"


@dataclass
class ModelSpec:
    """What answers: a trained directory, its base model, or replies saved earlier."""

    label: str = field(metadata={"help": "Name in the report (directory name, 'base', or --labels)."})
    path: Path = field(metadata={"help": "The model directory, or the replies JSONL file."})
    kind: str = field(metadata={"help": "'trained', 'base' (adapters and experts off) or 'saved' (a replies file)."})


def parse_model_spec(text: str) -> ModelSpec:
    base = text.startswith(BASE_PREFIX)
    path = Path(text[len(BASE_PREFIX):] if base else text)
    if path.is_file() and path.suffix == REPLY_FILE_SUFFIX and not base:
        return ModelSpec(path.stem.removeprefix("replies_"), path, "saved")
    if not path.is_dir():
        raise ConfigError(f"MODEL {text!r}: no such model directory or replies .jsonl file. Fix: give a trained "
                          f"directory, base:DIR for its base model, or a replies_*.jsonl written by this command")
    if base:
        return ModelSpec("base", path, "base")
    return ModelSpec(path.resolve().name, path, "trained")


def unique_labels(specs: list[ModelSpec], labels: list[str] | None) -> list[ModelSpec]:
    """Apply --labels, then make every label distinct (a file name and a report key)."""
    if labels:
        if len(labels) != len(specs):
            raise ConfigError(f"--labels gives {len(labels)} names for {len(specs)} models; give one per MODEL")
        for spec, label in zip(specs, labels):
            spec.label = label
    seen: dict[str, int] = {}
    for spec in specs:
        clean = "".join(c if c.isalnum() or c in "-_." else "_" for c in spec.label) or "model"
        seen[clean] = seen.get(clean, 0) + 1
        spec.label = clean if seen[clean] == 1 else f"{clean}_{seen[clean]}"
    return specs


@dataclass
class Sampling:
    """How replies are sampled: the chat sampler's defaults unless changed."""

    max_new_tokens: int = field(default=256, metadata={"help": "Most tokens per reply."})
    temperature: float = field(default=0.7, metadata={"help": "Sampling temperature (0 = greedy)."})
    top_p: float = field(default=0.9, metadata={"help": "Nucleus sampling mass."})
    repetition_penalty: float = field(default=DEFAULT_REPETITION_PENALTY, metadata={"help": "Penalty on the reply's own tokens (1 = off)."})
    seed: int = field(default=0, metadata={"help": "Question i is sampled with seed + i, the same for every model."})


def load_assistants(specs: list[ModelSpec], *, device: str | None, safety_config: str | None,
                    max_context_length: int) -> dict[Path, object]:
    """One loaded assistant per directory: a trained model and its base share the load."""
    from therapeutic_moe.inference.assistant import TherapistAssistant
    from therapeutic_moe.inference.model_settings import load_safety_config

    loaded: dict[Path, object] = {}
    for spec in specs:
        key = spec.path.resolve()
        if spec.kind == "saved" or key in loaded:
            continue
        cfg = load_safety_config(safety_config, spec.path)
        loaded[key] = TherapistAssistant.from_pretrained(spec.path, device=device, safety_cfg=cfg,
                                                         max_context_length=max_context_length, quiet=True)
    return loaded


def generate_replies(assistant, spec: ModelSpec, questions: list, sampling: Sampling,
                     progress: bool = False) -> list[dict]:
    """One record per question, in question order."""
    from contextlib import nullcontext

    from therapeutic_moe.evaluation.base_only import base_model_only

    records = []
    for i, question in enumerate(questions):
        switch = base_model_only(assistant.model) if spec.kind == "base" else nullcontext()
        with switch:
            reply = assistant.reply(question.messages, max_new_tokens=sampling.max_new_tokens,
                                    temperature=sampling.temperature, top_p=sampling.top_p,
                                    repetition_penalty=sampling.repetition_penalty, seed=sampling.seed + i)
        records.append(reply_record(spec, question, reply, sampling.seed + i))
        if progress:
            print(f"  {spec.label}: {i + 1}/{len(questions)} replies ({reply.usage.completion_tokens} tokens, "
                  f"{reply.seconds:.1f} s)", file=sys.stderr, flush=True)
    return records


def reply_record(spec: ModelSpec, question, reply, seed: int) -> dict:
    return {"model": spec.label, "kind": spec.kind, "model_dir": str(spec.path), "question_id": question.id,
            "topic": question.topic, "source": question.source, "messages": question.messages,
            "reply": reply.text, "finish_reason": reply.finish_reason,
            "prompt_tokens": reply.usage.prompt_tokens, "completion_tokens": reply.usage.completion_tokens,
            "screen_reasons": list(reply.screen_reasons), "seconds": round(reply.seconds, 3), "seed": seed}


def write_replies(records: list[dict], path: Path, sampling: Sampling) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    stamp = {"sampling": asdict(sampling), "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    with path.open("w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps({**record, **stamp}, ensure_ascii=False) + "\n")
    return path


REQUIRED_FIELDS = {"question_id": str, "messages": list, "reply": str, "finish_reason": str}


def read_replies(path: Path) -> list[dict]:
    """Records of a replies JSONL file written by this command; one clear error per bad line."""
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise DataError(f"{path}:{number}: invalid JSON ({exc}). Fix: regenerate the file with "
                            f"`therapeutic-moe replies MODEL_DIR ...`") from None
        if not isinstance(record, dict):
            raise DataError(f"{path}:{number}: expected a JSON object per line, got {type(record).__name__}")
        for name, kind in REQUIRED_FIELDS.items():
            if not isinstance(record.get(name), kind):
                raise DataError(f"{path}:{number}: field {name!r} missing or not a {kind.__name__}. Fix: use a "
                                f"replies file written by this command")
        records.append(record)
    if not records:
        raise DataError(f"{path}: no replies in the file")
    return records
