"""Console progress: a tqdm bar on a terminal plus plain status lines a log file can keep.

The status lines follow the training guide::

    Progress: 45.2% | Loss: 1.234 | Step: 1500/3320
    Elapsed: 5.5 hours | Remaining: 6.5 hours
    Checkpoint at 5.5 hours

The bar is drawn only when stdout is a terminal, so redirected logs hold just these lines.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from therapeutic_moe.training.monitoring import scalar_or_none

LOSS_KEYS = ("train/loss", "loss")


def format_duration(seconds: float) -> str:
    """Hours with one decimal, as in the guide; minutes below six minutes, where hours read 0.0."""
    seconds = max(0.0, float(seconds))
    if seconds < 360:
        return f"{seconds / 60:.1f} minutes"
    return f"{seconds / 3600:.1f} hours"


class TrainingProgress:
    """Prints status lines every ``logging_steps`` steps and drives a tqdm bar.

    ``initial_step``/``initial_elapsed_s`` describe where a resumed run starts; the speed
    used for the time estimate is measured from there, in this process only, so a resume
    on a different machine is not misjudged by the old one's speed.
    """

    def __init__(
        self,
        total_steps: int,
        max_hours: float,
        initial_step: int = 0,
        initial_elapsed_s: float = 0.0,
        enabled: bool = True,
        logging_steps: int = 1,
    ):
        if int(total_steps) <= 0:
            raise ValueError(f"total_steps must be positive, got {total_steps}")
        if not max_hours or max_hours <= 0:
            raise ValueError(f"max_hours must be positive, got {max_hours}")
        self.total_steps = int(total_steps)
        self.max_hours = float(max_hours)
        self.initial_step = int(initial_step)
        self.initial_elapsed_s = float(initial_elapsed_s)
        self.enabled = bool(enabled)
        self.logging_steps = max(1, int(logging_steps))
        self._bar = None
        if self.enabled and _is_tty(sys.stdout):
            from tqdm import tqdm

            self._bar = tqdm(total=self.total_steps, initial=self.initial_step, unit="step",
                             dynamic_ncols=True, file=sys.stdout, leave=True)

    def remaining_s(self, step: int, elapsed_s: float) -> float:
        """min(time left in the budget, estimated time to reach ``total_steps``)."""
        budget_left = max(0.0, self.max_hours * 3600.0 - elapsed_s)
        done_here = step - self.initial_step
        spent_here = elapsed_s - self.initial_elapsed_s
        if done_here > 0 and spent_here > 0:
            to_finish = spent_here / done_here * max(0, self.total_steps - step)
            return min(budget_left, to_finish)
        if step >= self.total_steps:
            return 0.0
        return budget_left

    def line(self, step: int, metrics: Mapping[str, Any] | None, elapsed_s: float) -> str:
        """The two status lines for ``step`` (no side effects)."""
        percent = 100.0 * min(max(step, 0), self.total_steps) / self.total_steps
        loss = _first_number(metrics or {}, LOSS_KEYS)
        loss_text = f"{loss:.3f}" if loss is not None else "n/a"
        return (
            f"Progress: {percent:.1f}% | Loss: {loss_text} | Step: {step}/{self.total_steps}\n"
            f"Elapsed: {format_duration(elapsed_s)} | Remaining: {format_duration(self.remaining_s(step, elapsed_s))}"
        )

    def checkpoint_line(self, elapsed_s: float) -> str:
        return f"Checkpoint at {format_duration(elapsed_s)}"

    def update(self, step: int, metrics: Mapping[str, Any] | None, elapsed_s: float) -> None:
        """Advance the bar to ``step``; print the status lines on logging steps and the last step."""
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.update(max(0, step - self._bar.n))
            loss = _first_number(metrics or {}, LOSS_KEYS)
            if loss is not None:
                self._bar.set_postfix_str(f"loss {loss:.3f}", refresh=False)
        if step % self.logging_steps == 0 or step >= self.total_steps:
            self.note(self.line(step, metrics, elapsed_s))

    def checkpoint(self, elapsed_s: float) -> None:
        self.note(self.checkpoint_line(elapsed_s))

    def note(self, text: str) -> None:
        """Print a message above the bar (or plainly when there is no bar)."""
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.write(text, file=sys.stdout)
        else:
            print(text, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> TrainingProgress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _is_tty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _first_number(metrics: Mapping[str, Any], keys: tuple[str, ...]) -> float | None:
    for key in keys:
        if key in metrics:
            try:
                value = scalar_or_none(metrics[key], key)
            except TypeError:
                continue
            if value is not None:
                return value
    return None
