"""`data check`: run the whole pipeline on a dataset and report what training would get."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from therapeutic_moe.data.domains import domain_index, resolve_topic_map
from therapeutic_moe.data.formats import load_conversations
from therapeutic_moe.data.prepare import build_examples, check_limits
from therapeutic_moe.data.report import DataReport
from therapeutic_moe.data.settings import DataSettings
from therapeutic_moe.data.topic_hint import topic_map_hint
from therapeutic_moe.data.transcript import Speakers
from therapeutic_moe.errors import DataError

DEFAULT_CHECK_MODEL = "smollm2-135m-instruct"


def load_tokenizer_for_check(name: str):
    """The tokenizer `data check` counts with: the same loader training uses (the embedded
    default is converted once into the model cache, then loads in about a second)."""
    from therapeutic_moe.modeling.base_model import load_tokenizer, resolve_base_model

    return load_tokenizer(resolve_base_model(name))


def check_dataset(path: str | Path, settings: DataSettings, tokenizer=None,
                  tokenizer_name: str = DEFAULT_CHECK_MODEL) -> tuple[DataReport, DataError | None]:
    """The report for ``path`` and the error training would stop with (None when it would not)."""
    settings = replace(settings, dataset=str(path))
    # Bad files fail here, in a second, before the tokenizer is loaded.
    topic_map = resolve_topic_map(settings.topic_to_domain, settings.expert_domains)
    speakers = Speakers(tuple(settings.assistant_speakers), tuple(settings.user_speakers))
    conversations = load_conversations(path, speakers)
    for conv in conversations:
        domain_index(conv, topic_map, settings.expert_domains)
    if tokenizer is None:
        tokenizer = load_tokenizer_for_check(tokenizer_name)
    report = build_examples(settings, tokenizer).report
    hint = topic_map_hint(conversations, settings.topic_to_domain, settings.expert_domains)
    report.hints += [hint] if hint else []
    try:
        check_limits(report, settings)
    except DataError as exc:
        return report, exc
    return report, None
