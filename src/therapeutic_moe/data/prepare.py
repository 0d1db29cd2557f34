"""One call from config to training examples: load, label domains, scrub, de-duplicate, split, window."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from therapeutic_moe.data.domains import domain_index, resolve_topic_map
from therapeutic_moe.data.examples import BuildStats, conversation_examples
from therapeutic_moe.data.formats import data_files, load_conversations
from therapeutic_moe.data.packing import packing_efficiency, padding_efficiency, plan_epoch
from therapeutic_moe.data.pii import make_scrubber
from therapeutic_moe.data.report import DataReport
from therapeutic_moe.data.settings import DataSettings
from therapeutic_moe.data.split import dedupe, split_conversations
from therapeutic_moe.data.transcript import Speakers
from therapeutic_moe.data.types import Conversation, Example
from therapeutic_moe.errors import DataError

DEFAULT_DATASET_NAME = "training_dataset.json"


@dataclass
class PreparedData:
    """Training and validation windows plus the report of how they were made."""

    train: list[Example] = field(metadata={"help": "Training windows."})
    val: list[Example] = field(metadata={"help": "Validation windows (whole conversations never straddle)."})
    report: DataReport = field(metadata={"help": "Counts, drops, PII, domains, packing estimate."})


def bundled_sample_path() -> Path:
    """The small invented dataset shipped with the package."""
    return Path(__file__).resolve().parent.parent / "sample_data" / DEFAULT_DATASET_NAME


def resolve_dataset_path(dataset: str | Path | None) -> Path:
    """``dataset`` itself, else ./training_dataset.json when present, else the bundled sample."""
    if dataset:
        return Path(dataset)
    local = Path(DEFAULT_DATASET_NAME)
    return local if local.is_file() else bundled_sample_path()


def prepare_datasets(train_cfg: Any, safety_cfg: Any, tokenizer) -> PreparedData:
    """Training and validation examples from the configured data (see docs/data.md).

    Raises ``DataError`` for bad input, and when more than ``max_drop_fraction`` of the
    samples would be dropped or no training example is left.
    """
    cfg = DataSettings.from_configs(train_cfg, safety_cfg)
    prepared = build_examples(cfg, tokenizer)
    check_limits(prepared.report, cfg)
    return prepared


def build_examples(cfg: DataSettings, tokenizer) -> PreparedData:
    """The whole pipeline without the final limit checks (``data check`` reports before it refuses)."""
    speakers = Speakers(tuple(cfg.assistant_speakers), tuple(cfg.user_speakers))
    topic_map = resolve_topic_map(cfg.topic_to_domain, cfg.expert_domains)
    scrubber = make_scrubber(cfg.pii_scrubbing, cfg.pii_kinds)
    report = DataReport(max_seq_length=cfg.max_seq_length, pii_scrubbing=cfg.pii_scrubbing)

    def load(path: str | Path) -> list[Conversation]:
        report.files += [str(p) for p in data_files(path)]
        conversations = load_conversations(path, speakers)
        for conv in conversations:
            domain_index(conv, topic_map, cfg.expert_domains)  # unknown domains fail before any tokenizing
        if scrubber is not None:
            conversations = [scrubber.scrub_conversation(c) for c in conversations]
        return conversations

    train_convs = load(resolve_dataset_path(cfg.dataset))
    val_convs = load(cfg.validation_dataset) if cfg.validation_dataset else None
    report.conversations = len(train_convs) + len(val_convs or [])
    if val_convs is not None:
        if cfg.dedupe:
            val_convs, removed_val = dedupe(val_convs)
            # A training copy of a validation conversation would leak it into training.
            train_convs, removed_train = dedupe(train_convs, seen={c.normalized_text() for c in val_convs})
            report.duplicates_removed = removed_val + removed_train
    else:
        if cfg.dedupe:
            train_convs, report.duplicates_removed = dedupe(train_convs)
        train_convs, val_convs = split_conversations(train_convs, cfg.validation_split, cfg.seed)
    report.train_conversations, report.val_conversations = len(train_convs), len(val_convs)

    stats = BuildStats()
    domain_counts: Counter = Counter()

    def windows(conversations: list[Conversation]) -> list[Example]:
        out = []
        for conv in conversations:
            domain = domain_index(conv, topic_map, cfg.expert_domains)
            domain_counts[cfg.expert_domains[domain] if domain >= 0 else "none"] += 1
            report.turns += len(conv.turns)
            report.assistant_turns += sum(t.role == "assistant" for t in conv.turns)
            out += conversation_examples(conv, tokenizer, max_seq_length=cfg.max_seq_length,
                                         system_prompt=cfg.system_prompt, domain=domain, stats=stats)
        return out

    train, val = windows(train_convs), windows(val_convs)
    report.train_examples, report.val_examples = len(train), len(val)
    report.conversation_tokens = stats.conversation_tokens
    report.example_tokens = [len(ex) for ex in train]
    report.trained_tokens = stats.trained_tokens
    report.multi_window_conversations = stats.multi_window_conversations
    report.drops = {reason: n for reason, n in stats.drops.items() if n}
    report.special_text_removed = stats.special_text_removed
    report.domains = {d: domain_counts[d] for d in [*cfg.expert_domains, "none"] if domain_counts[d]}
    report.pii = dict(scrubber.counts) if scrubber is not None else {}
    _add_packing_estimate(report, cfg)
    return PreparedData(train=train, val=val, report=report)


def check_limits(report: DataReport, cfg: DataSettings) -> None:
    """Refuse a dataset that lost too many samples or has nothing left to train on."""
    total = report.train_examples + report.val_examples + report.dropped
    if total and report.dropped / total > cfg.max_drop_fraction:
        reasons = ", ".join(f"{k}: {v}" for k, v in sorted(report.drops.items()) if v)
        raise DataError(f"{report.dropped} of {total} samples would be dropped ({reasons}), more than "
                        f"max_drop_fraction={cfg.max_drop_fraction}. Fix: raise max_seq_length (now "
                        f"{cfg.max_seq_length}) so long turns fit, shorten those turns, or raise max_drop_fraction "
                        f"to accept the loss; `therapeutic-moe data check` shows the details")
    if not report.train_examples:
        raise DataError(f"no training examples were made from {', '.join(report.files)}. Fix: add conversations "
                        f"with therapist turns, or lower validation_split (now {cfg.validation_split})")


def _add_packing_estimate(report: DataReport, cfg: DataSettings) -> None:
    """Both batch layouts as training's planner makes them for epoch 0 (the trainer picks one by
    ``packing``): packed rows of max_seq_length, and padded micro-batches of the batch size."""
    lengths = report.example_tokens
    packed = plan_epoch(lengths, seed=cfg.seed, epoch=0, batch_size=cfg.per_device_train_batch_size,
                        max_seq_length=cfg.max_seq_length, packing=True)
    report.packing_max_tokens = cfg.max_seq_length
    report.packed_batches = len(packed.rows)
    report.packing_efficiency = packing_efficiency(lengths, packed, cfg.max_seq_length)
    report.padding_batch_size = cfg.per_device_train_batch_size
    report.padding_efficiency = padding_efficiency(lengths, cfg.per_device_train_batch_size, cfg.seed)
