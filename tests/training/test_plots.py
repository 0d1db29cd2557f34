"""Report plots: real PNGs of the requested size, and a "no data" panel instead of a crash."""

from __future__ import annotations

import math
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from therapeutic_moe.training.plots import (
    plot_confusion_matrix,
    plot_expert_usage_heatmap,
    plot_ppl_by_length,
    plot_training_curves,
)

DOMAINS = ["psychology", "mental_health", "bias_detection", "general_therapeutic"]


def png_size(path: Path) -> tuple[int, int]:
    raw = Path(path).read_bytes()
    assert raw[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", raw[16:24])
    return width, height


def png_pixels(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def assert_drawn(path: Path, size: tuple[int, int]) -> None:
    assert path.is_file() and path.stat().st_size > 1000
    assert png_size(path) == size
    assert png_pixels(path).std() > 5, "image is blank"


def history(steps: int = 50) -> list[dict]:
    rows = []
    for step in range(1, steps + 1):
        row = {"step": step, "train/loss": 3.0 / math.sqrt(step), "train/lm_loss": 2.9 / math.sqrt(step),
               "train/aux_loss": 0.01 + 0.001 / step, "train/learning_rate": 3e-4 * min(1.0, step / 10),
               "train/routing_entropy": torch.tensor(1.2 + step * 0.001)}
        if step % 10 == 0:
            row["val/loss"] = 2.5 / math.sqrt(step)
        rows.append(row)
    return rows


def test_heatmap_png_of_requested_size(tmp_path):
    usage = np.random.default_rng(0).dirichlet(np.ones(4), size=30)
    out = plot_expert_usage_heatmap(usage, DOMAINS, tmp_path / "heat.png", figsize=(6, 8), dpi=50)
    assert out == tmp_path / "heat.png"
    assert_drawn(out, (300, 400))


def test_heatmap_accepts_counts_tensors_and_one_dim(tmp_path):
    counts = torch.tensor([[10.0, 30.0, 40.0, 20.0], [25.0, 25.0, 25.0, 25.0]])
    assert_drawn(plot_expert_usage_heatmap(counts, DOMAINS, tmp_path / "a.png", figsize=(5, 4), dpi=40), (200, 160))
    assert_drawn(plot_expert_usage_heatmap([0.25] * 4, None, tmp_path / "b.png", figsize=(5, 4), dpi=40), (200, 160))


def test_heatmap_auto_size_grows_with_layers(tmp_path):
    small = png_size(plot_expert_usage_heatmap(np.full((2, 4), 0.25), DOMAINS, tmp_path / "s.png"))
    large = png_size(plot_expert_usage_heatmap(np.full((32, 8), 0.125), None, tmp_path / "l.png"))
    assert large[0] > small[0] and large[1] > small[1]


def test_heatmap_dead_expert_and_empty_layer_rows(tmp_path):
    usage = np.array([[0.5, 0.5, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0], [np.nan, 1.0, 0.0, 0.0]])
    assert_drawn(plot_expert_usage_heatmap(usage, DOMAINS[:2], tmp_path / "h.png", figsize=(6, 4), dpi=50),
                 (300, 200))


EMPTY_INPUTS = [
    ("empty list", []),
    ("empty 2d", np.zeros((0, 4))),
    ("all nan", np.full((3, 4), np.nan)),
    ("none", None),
    ("nonsense", "not numbers"),
]


@pytest.mark.parametrize("name,usage", EMPTY_INPUTS)
def test_heatmap_no_data_panel(tmp_path, name, usage):
    out = plot_expert_usage_heatmap(usage, DOMAINS, tmp_path / "h.png", figsize=(4, 3), dpi=50)
    assert_drawn(out, (200, 150))


@pytest.mark.parametrize("name,matrix", EMPTY_INPUTS)
def test_confusion_no_data_panel(tmp_path, name, matrix):
    assert_drawn(plot_confusion_matrix(matrix, DOMAINS, tmp_path / "c.png", "t", figsize=(4, 3), dpi=50),
                 (200, 150))


def test_training_curves(tmp_path):
    out = plot_training_curves(history(), tmp_path / "sub" / "curves.png", figsize=(8, 9), dpi=50)
    assert_drawn(out, (400, 450))


def test_training_curves_skip_missing_panels_auto_size(tmp_path):
    only_loss = [{"step": s, "train/loss": 1.0 / s} for s in range(1, 10)]
    full = png_size(plot_training_curves(history(), tmp_path / "full.png"))
    partial = png_size(plot_training_curves(only_loss, tmp_path / "partial.png"))
    assert partial[0] == full[0] and partial[1] < full[1]  # fewer panels, shorter figure


@pytest.mark.parametrize("rows", [
    [],
    [{"step": 1}],
    [{"step": 1, "train/loss": float("nan")}, {"step": 2, "train/loss": None}],
    [{"unrelated": 1.0}],
])
def test_training_curves_no_data(tmp_path, rows):
    assert_drawn(plot_training_curves(rows, tmp_path / "c.png", figsize=(4, 3), dpi=50), (200, 150))


def test_training_curves_without_step_key_uses_row_index(tmp_path):
    rows = [{"train/loss": 2.0}, {"train/loss": 1.0}, {"train/loss": float("inf")}]
    assert_drawn(plot_training_curves(rows, tmp_path / "c.png", figsize=(5, 3), dpi=50), (250, 150))


def test_confusion_matrix(tmp_path):
    matrix = np.array([[50, 5, 3, 2], [4, 40, 1, 5], [0, 0, 0, 0], [10, 10, 10, 70]])
    out = plot_confusion_matrix(matrix, DOMAINS, tmp_path / "cm.png", "Domain routing", figsize=(7, 6), dpi=50)
    assert_drawn(out, (350, 300))


def test_confusion_matrix_non_square_with_predicted_labels(tmp_path):
    matrix = torch.tensor([[3, 1, 0], [0, 2, 2]])
    out = plot_confusion_matrix(matrix, ["a", "b"], tmp_path / "cm.png", "t", predicted_labels=["x", "y", "z"],
                                figsize=(5, 4), dpi=50)
    assert_drawn(out, (250, 200))


def test_ppl_by_length_with_number_and_per_sample_baseline(tmp_path):
    rng = np.random.default_rng(0)
    lengths = rng.integers(20, 2000, size=200)
    ppls = 3.0 + 1000.0 / lengths
    a = plot_ppl_by_length(lengths, ppls, tmp_path / "a.png", baseline=6.5, figsize=(6, 4), dpi=50)
    b = plot_ppl_by_length(lengths, ppls, tmp_path / "b.png", baseline=ppls * 2, figsize=(6, 4), dpi=50)
    assert_drawn(a, (300, 200))
    assert_drawn(b, (300, 200))
    assert not np.array_equal(png_pixels(a), png_pixels(b))


@pytest.mark.parametrize("lengths,ppls", [
    ([], []),
    ([10, 20], [float("nan"), float("inf")]),
    (None, None),
    ([1, 2, 3], []),
])
def test_ppl_by_length_no_data(tmp_path, lengths, ppls):
    assert_drawn(plot_ppl_by_length(lengths, ppls, tmp_path / "p.png", figsize=(4, 3), dpi=50), (200, 150))


def test_plots_leave_pyplot_backend_alone(tmp_path):
    import matplotlib

    before = matplotlib.get_backend()
    plot_training_curves(history(5), tmp_path / "c.png")
    assert matplotlib.get_backend() == before
