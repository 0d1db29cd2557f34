"""Console progress lines in the guide's format, the time estimate, and the bar only on a terminal."""

from __future__ import annotations

import io
import re
import sys

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from therapeutic_moe.training.progress import TrainingProgress, format_duration

HOUR = 3600.0
GUIDE_PROGRESS = re.compile(r"^Progress: \d+\.\d% \| Loss: (\d+\.\d{3}|n/a) \| Step: \d+/\d+$")
GUIDE_TIME = re.compile(r"^Elapsed: \d+\.\d (hours|minutes) \| Remaining: \d+\.\d (hours|minutes)$")


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_line_has_the_exact_guide_format():
    progress = TrainingProgress(total_steps=3320, max_hours=12, enabled=False)
    # 1500 steps in 5.5 h: 1820 steps to go at the same speed = 6.67 h, budget left 6.5 h.
    text = progress.line(1500, {"train/loss": 1.2344}, 5.5 * HOUR)
    assert text == ("Progress: 45.2% | Loss: 1.234 | Step: 1500/3320\n"
                    "Elapsed: 5.5 hours | Remaining: 6.5 hours")
    first, second = text.splitlines()
    assert GUIDE_PROGRESS.match(first) and GUIDE_TIME.match(second)


def test_checkpoint_line():
    progress = TrainingProgress(total_steps=10, max_hours=12, enabled=False)
    assert progress.checkpoint_line(5.5 * HOUR) == "Checkpoint at 5.5 hours"


@pytest.mark.parametrize("step,elapsed_h,expected_remaining_h", [
    (1000, 2.0, 4.0),      # 2 h per 1000 steps, 2000 to go: the estimate (4 h) is below the budget
    (500, 6.0, 6.0),       # slow: the estimate (36 h) is capped by the 6 h left in the budget
    (0, 0.0, 12.0),        # nothing measured yet: the budget
    (3000, 3.0, 0.0),      # finished
    (100, 13.0, 0.0),      # over budget never goes negative
])
def test_remaining_is_min_of_budget_and_estimate(step, elapsed_h, expected_remaining_h):
    progress = TrainingProgress(total_steps=3000, max_hours=12, enabled=False)
    assert progress.remaining_s(step, elapsed_h * HOUR) == pytest.approx(expected_remaining_h * HOUR)


def test_resumed_run_measures_speed_from_the_resume_point():
    # Resumed at step 1000 after 5 h; now 1 h later at 1500: 500 steps/h, 500 to go = 1 h.
    progress = TrainingProgress(total_steps=2000, max_hours=12, initial_step=1000,
                                initial_elapsed_s=5 * HOUR, enabled=False)
    assert progress.remaining_s(1500, 6 * HOUR) == pytest.approx(1 * HOUR)
    assert progress.remaining_s(1000, 5 * HOUR) == pytest.approx(7 * HOUR)


@pytest.mark.parametrize("metrics,shown", [
    ({"train/loss": torch.tensor(0.5)}, "Loss: 0.500"),
    ({"loss": np.float32(2.0)}, "Loss: 2.000"),
    ({"train/loss": None, "loss": 1.0}, "Loss: 1.000"),
    ({}, "Loss: n/a"),
    (None, "Loss: n/a"),
    ({"train/loss": "oops"}, "Loss: n/a"),
    ({"train/loss": float("nan")}, "Loss: nan"),
])
def test_loss_sources(metrics, shown):
    assert shown in TrainingProgress(total_steps=10, max_hours=1, enabled=False).line(1, metrics, 60.0)


@pytest.mark.parametrize("seconds,text", [(0, "0.0 minutes"), (90, "1.5 minutes"), (359, "6.0 minutes"),
                                          (360, "0.1 hours"), (5.5 * HOUR, "5.5 hours"), (-5, "0.0 minutes")])
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


@pytest.mark.parametrize("kwargs", [dict(total_steps=0, max_hours=1), dict(total_steps=10, max_hours=0),
                                    dict(total_steps=-3, max_hours=1)])
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        TrainingProgress(enabled=False, **kwargs)


def test_update_prints_every_logging_steps_and_last_step_without_bar(monkeypatch, capsys):
    progress = TrainingProgress(total_steps=10, max_hours=1, logging_steps=4)
    assert progress._bar is None  # pytest's captured stdout is not a terminal
    for step in range(1, 11):
        progress.update(step, {"train/loss": 1.0 / step}, elapsed_s=step * 60.0)
    progress.checkpoint(300.0)
    progress.note("Saved checkpoint-10")
    progress.close()
    out = capsys.readouterr().out.splitlines()
    progress_lines = [line for line in out if line.startswith("Progress:")]
    assert [line.split("Step: ")[1] for line in progress_lines] == ["4/10", "8/10", "10/10"]
    assert all(GUIDE_PROGRESS.match(line) for line in progress_lines)
    assert sum(bool(GUIDE_TIME.match(line)) for line in out) == 3
    assert out[-2:] == ["Checkpoint at 5.0 minutes", "Saved checkpoint-10"]
    assert "\r" not in "".join(out)  # no bar redraws in a redirected log


def test_disabled_prints_nothing(capsys):
    progress = TrainingProgress(total_steps=5, max_hours=1, enabled=False)
    for step in range(1, 6):
        progress.update(step, {"train/loss": 1.0}, elapsed_s=1.0)
    progress.note("hidden")
    progress.checkpoint(1.0)
    progress.close()
    assert capsys.readouterr().out == ""


def test_bar_on_a_terminal(monkeypatch):
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    with TrainingProgress(total_steps=20, max_hours=1, initial_step=5, logging_steps=10) as progress:
        assert progress._bar is not None and progress._bar.n == 5
        for step in range(6, 21):
            progress.update(step, {"train/loss": 0.25}, elapsed_s=step * 10.0)
        assert progress._bar.n == 20
        progress.note("Checkpoint at 0.1 hours")
    text = terminal.getvalue()
    assert "20/20" in text and "loss 0.250" in text
    assert "Progress: 50.0% | Loss: 0.250 | Step: 10/20" in text
    assert "Checkpoint at 0.1 hours" in text


@settings(max_examples=200, deadline=None)
@given(total=st.integers(1, 10**6), max_hours=st.floats(0.01, 48), data=st.data())
def test_line_format_and_remaining_bounds_hold_everywhere(total, max_hours, data):
    step = data.draw(st.integers(0, total))
    elapsed = data.draw(st.floats(0, 3 * max_hours * HOUR))
    progress = TrainingProgress(total_steps=total, max_hours=max_hours, enabled=False)
    first, second = progress.line(step, {"train/loss": 1.0}, elapsed).splitlines()
    assert GUIDE_PROGRESS.match(first) and GUIDE_TIME.match(second)
    remaining = progress.remaining_s(step, elapsed)
    assert 0.0 <= remaining <= max(0.0, max_hours * HOUR - elapsed) + 1e-6
