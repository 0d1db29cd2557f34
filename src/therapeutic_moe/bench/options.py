"""Options of `therapeutic-moe bench` (no heavy imports: the CLI reads them for --help)."""

from __future__ import annotations

from dataclasses import dataclass, field

# Gradient checkpointing "auto" (bench and trainer): keep it off when a micro-batch of at least
# this many tokens fits without it; recomputation costs about a third more compute, while a
# micro-batch of a couple of full rows already keeps the GPU busy.
MIN_TOKENS_WITHOUT_CHECKPOINTING = 4096


@dataclass
class BenchOptions:
    """What to measure. Every field is also a ``therapeutic-moe bench`` option."""

    shapes: str = field(default="135m,1b,8b", metadata={"help": "Comma list of shapes, NAME or NAME@SEQ."})
    seq: int = field(default=2048, metadata={"help": "Sequence length for shapes without @SEQ."})
    batch: str = field(default="auto", metadata={"help": "'auto' (largest that fits) or a fixed batch size."})
    steps: int = field(default=8, metadata={"help": "Timed steps per setup (median reported)."})
    warmup: int = field(default=2, metadata={"help": "Untimed steps before timing."})
    variants: str = field(default="plain,liger,ours,ours_e4,ours_e8", metadata={"help": "Comma list of setups."})
    out: str | None = field(default=None, metadata={"help": "JSON file to write."})
    real_data: str | None = field(default=None, metadata={"help": "Directory with the real datasets."})
    real_data_shapes: str = field(default="135m", metadata={"help": "Shapes for the real-data table."})
    real_data_tokens: int = field(default=150_000, metadata={
        "help": "Trained tokens each real-data setup is timed over (after 2 warm-up steps)."})
    tokenizer: str = field(default="smollm2-135m-instruct", metadata={
        "help": "Tokenizer for the real data: the default model's, a local directory or a hub id."})
    device: str = field(default="auto", metadata={"help": "auto, cuda or cpu."})
    max_tokens_per_step: int = field(default=131072, metadata={
        "help": "Cap on batch x seq for 'auto' (the same for every setup)."})
    memory_fraction: float = field(default=0.9, metadata={"help": "Share of GPU memory 'auto' may plan for."})
    checkpointing: str = field(default="auto", metadata={"help": "Ours: auto (only when needed), on or off."})
    min_tokens_without_checkpointing: int = field(
        default=MIN_TOKENS_WITHOUT_CHECKPOINTING, metadata={"help": "'auto' checkpointing: turn it on when fewer tokens per step fit without."})
    ablations: str = field(default="", metadata={"help": "Shapes on which to time ours_e4 with each fast kernel off."})
    time_budget_s: float = field(default=0.0, metadata={"help": "Skip what would start after this many seconds (0 = no limit)."})
    seed: int = field(default=0, metadata={"help": "Seed of weights and batches."})
