"""Everything about a run's progress that a resume needs, saved as trainer_state.json."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

STATE_FILE = "trainer_state.json"


@dataclass
class TrainState:
    global_step: int = 0  # optimizer steps done
    epoch: int = 0  # current epoch
    micro_batch: int = 0  # next micro-batch index within the epoch's plan
    elapsed_seconds: float = 0.0  # wall time used so far, summed over every resume
    tokens_seen: int = 0
    best_metric: float | None = None  # best validation loss
    best_step: int | None = None
    evals_without_improvement: int = 0
    wandb_run_id: str | None = None
    data_fingerprint: str | None = None
    window_size: int | None = None  # micro-batches per optimizer step (accumulation × processes)
    stop_reason: str | None = None
    resumes: int = 0
    history: list[dict] = field(default_factory=list)  # logged metric rows, for plots

    def save(self, directory: Path) -> None:
        (Path(directory) / STATE_FILE).write_text(json.dumps(asdict(self), indent=1))

    @classmethod
    def load(cls, directory: Path) -> "TrainState":
        data = json.loads((Path(directory) / STATE_FILE).read_text())
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})
