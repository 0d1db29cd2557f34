"""What the pipeline did to a dataset, as a dict (``--json``) or a text summary."""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field

_EDGES = [0, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384]


def length_histogram(lengths: list[int]) -> list[tuple[str, int]]:
    """Counts per power-of-two token-length bucket, empty buckets at the ends left out."""
    rows = []
    for lo, hi in zip(_EDGES, _EDGES[1:] + [None]):
        label = f"{lo}-{hi - 1}" if hi else f"{lo}+"
        rows.append((label, sum(1 for n in lengths if n >= lo and (hi is None or n < hi))))
    nonzero = [i for i, (_, c) in enumerate(rows) if c]
    return rows[nonzero[0]:nonzero[-1] + 1] if nonzero else []


def _summary(lengths: list[int]) -> dict:
    if not lengths:
        return {"count": 0}
    ordered = sorted(lengths)
    return {"count": len(ordered), "min": ordered[0], "median": statistics.median(ordered),
            "p95": ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], "max": ordered[-1],
            "total": sum(ordered)}


@dataclass
class DataReport:
    """Counts from loading, scrubbing, de-duplicating, splitting and windowing a dataset."""

    files: list[str] = field(default_factory=list, metadata={"help": "Data files read."})
    conversations: int = field(default=0, metadata={"help": "Conversations loaded (train + validation files)."})
    duplicates_removed: int = field(default=0, metadata={"help": "Exact duplicates dropped."})
    train_conversations: int = field(default=0, metadata={"help": "Conversations in the training split."})
    val_conversations: int = field(default=0, metadata={"help": "Conversations in the validation split."})
    turns: int = field(default=0, metadata={"help": "Turns after merging same-speaker runs."})
    assistant_turns: int = field(default=0, metadata={"help": "Turns spoken by the assistant side."})
    conversation_tokens: list[int] = field(default_factory=list, metadata={
        "help": "Tokens per conversation, fully rendered with the chat template."})
    max_seq_length: int = field(default=0, metadata={"help": "Window limit used."})
    train_examples: int = field(default=0, metadata={"help": "Training windows made."})
    val_examples: int = field(default=0, metadata={"help": "Validation windows made."})
    example_tokens: list[int] = field(default_factory=list, metadata={"help": "Tokens per training window."})
    trained_tokens: int = field(default=0, metadata={"help": "Tokens with a label, train + validation."})
    multi_window_conversations: int = field(default=0, metadata={"help": "Conversations cut into 2+ windows."})
    drops: dict[str, int] = field(default_factory=dict, metadata={"help": "Dropped samples per reason."})
    special_text_removed: int = field(default=0, metadata={"help": "Control-token strings removed from turns."})
    domains: dict[str, int] = field(default_factory=dict, metadata={"help": "Conversations per domain ('none')."})
    pii: dict[str, int] = field(default_factory=dict, metadata={"help": "Identifiers replaced, per kind."})
    pii_scrubbing: bool = field(default=True, metadata={"help": "Whether scrubbing ran."})
    packing_max_tokens: int = field(default=2048, metadata={
        "help": "Row width of training's packed plan (max_seq_length)."})
    packed_batches: int = field(default=0, metadata={"help": "Packed rows training's planner makes per epoch."})
    packing_efficiency: float = field(default=0.0, metadata={
        "help": "Real / slot tokens of training's packed plan (epoch 0)."})
    padding_batch_size: int = field(default=4, metadata={"help": "Rows per micro-batch (per_device_train_batch_size)."})
    padding_efficiency: float = field(default=0.0, metadata={
        "help": "Real / slot tokens of training's padded plan (epoch 0), each micro-batch padded to its longest."})
    hints: list[str] = field(default_factory=list, metadata={
        "help": "Settings that would make better use of the data (e.g. a topic map for 'topic' fields)."})

    @property
    def dropped(self) -> int:
        return sum(self.drops.values())

    def to_dict(self) -> dict:
        out = asdict(self)
        out["conversation_tokens"] = _summary(self.conversation_tokens)
        out["conversation_token_histogram"] = dict(length_histogram(self.conversation_tokens))
        out["example_tokens"] = _summary(self.example_tokens)
        out["dropped"] = self.dropped
        return out

    def to_text(self) -> str:
        conv = _summary(self.conversation_tokens)
        lines = [
            f"files:          {len(self.files)} ({', '.join(self.files[:3])}{', ...' if len(self.files) > 3 else ''})",
            f"conversations:  {self.conversations} loaded, {self.duplicates_removed} duplicates removed, "
            f"{self.train_conversations} train / {self.val_conversations} validation",
            f"turns:          {self.turns} ({self.assistant_turns} assistant)",
        ]
        if conv["count"]:
            lines.append(f"tokens:         {conv['total']} total; per conversation min {conv['min']}, "
                         f"median {conv['median']:g}, p95 {conv['p95']}, max {conv['max']}")
            hist = length_histogram(self.conversation_tokens)
            peak = max(c for _, c in hist)
            for label, count in hist:
                bar = "#" * (round(40 * count / peak) if count else 0)
                lines.append(f"  {label:>12} | {bar:<40} {count}")
        lines += [
            f"windows:        {self.train_examples} train + {self.val_examples} validation at max_seq_length "
            f"{self.max_seq_length}; conversations cut into 2+ windows: {self.multi_window_conversations}; "
            f"trained tokens: {self.trained_tokens}",
            f"dropped:        {self.dropped}" + (" (" + ", ".join(f"{k}: {v}" for k, v in sorted(self.drops.items())
                                                          if v) + ")" if self.dropped else ""),
            "domains:        " + (", ".join(f"{k}: {v}" for k, v in self.domains.items()) or "-"),
            "PII replaced:   " + ((", ".join(f"{k}: {v}" for k, v in self.pii.items()) or "none found")
                                  if self.pii_scrubbing else "scrubbing off"),
            f"packing:        {self.packing_efficiency:.1%} efficient in {self.packed_batches} rows of "
            f"{self.packing_max_tokens} tokens (dynamic padding, batch {self.padding_batch_size}: "
            f"{self.padding_efficiency:.1%})",
        ]
        if self.special_text_removed:
            lines.append(f"note:           removed {self.special_text_removed} control-token strings typed into turns")
        lines += [f"hint:           {hint}" for hint in self.hints]
        return "\n".join(lines)
