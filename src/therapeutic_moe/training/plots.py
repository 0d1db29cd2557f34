"""PNG plots for the training report: expert usage, training curves, routing confusion, perplexity.

Figures are built with ``matplotlib.figure.Figure`` and rendered by the Agg canvas, never
through ``pyplot``: no display is needed and the caller's matplotlib backend is left alone.
Every function returns the path it wrote and draws a "no data" panel instead of raising
when its input is empty or entirely NaN, because plots are drawn at the end of a long run
where a crash would cost the report.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure

DEFAULT_DPI = 100
# Beyond this many cells the numbers overlap and are unreadable; the colours still tell.
MAX_ANNOTATED_CELLS = 600

MAIN_LOSS_KEYS = ("train/loss", "train/lm_loss", "val/loss")
AUX_LOSS_KEYS = ("train/aux_loss", "train/load_balancing_loss", "train/router_z_loss",
                 "train/domain_routing_loss")
LR_KEYS = ("train/learning_rate",)
ENTROPY_KEYS = ("train/routing_entropy", "moe/routing_entropy")


def _as_array(values: Any) -> np.ndarray:
    """A float numpy array from lists, numpy arrays or (CPU or GPU) torch tensors."""
    if values is None:
        return np.zeros((0,), dtype=float)
    if hasattr(values, "detach"):
        values = values.detach().float().cpu().numpy()
    try:
        return np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        return np.zeros((0,), dtype=float)


def _labels(names: Sequence[str] | None, count: int, prefix: str) -> list[str]:
    names = [str(n) for n in (names or [])]
    if len(names) == count:
        return names
    return [names[i] if i < len(names) else f"{prefix} {i}" for i in range(count)]


def _save(fig: Figure, path: str | Path, dpi: int) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, format="png")
    return path


def _no_data(ax, title: str, reason: str = "no data") -> None:
    ax.set_title(title)
    ax.text(0.5, 0.5, reason, ha="center", va="center", fontsize=14, color="0.4", transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


def _text_colour(rgba) -> str:
    r, g, b = rgba[:3]
    return "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.5 else "white"


def plot_expert_usage_heatmap(
    usage: Any,
    expert_names: Sequence[str] | None,
    path: str | Path,
    title: str = "Expert usage per layer",
    figsize: tuple[float, float] | None = None,
    dpi: int = DEFAULT_DPI,
) -> Path:
    """Heatmap of the share of routed tokens per layer (y) and expert (x).

    ``usage`` is [layers, experts] shares or counts (a 1-D array counts as one layer);
    each row is normalised to sum 1. The colour scale is centred on the balanced share
    1/E (white): red means over-used, blue under-used, grey a layer with no data.
    """
    data = _as_array(usage)
    if data.ndim == 1:
        data = data[None, :]
    layers, experts = (data.shape if data.ndim == 2 else (0, 0))
    if figsize is None:
        figsize = (max(6.0, 1.3 * experts + 3.0), max(4.0, 0.32 * layers + 2.0))
    fig = Figure(figsize=figsize, layout="constrained")
    ax = fig.add_subplot()
    if data.ndim != 2 or data.size == 0 or not np.isfinite(data).any():
        _no_data(ax, title)
        return _save(fig, path, dpi)

    ideal = 1.0 / experts
    with np.errstate(invalid="ignore", divide="ignore"):
        sums = np.nansum(np.where(np.isfinite(data), data, 0.0), axis=1, keepdims=True)
        shares = np.where(sums > 0, data / sums, np.nan)
    masked = np.ma.masked_invalid(shares)
    cmap = _cmap_with_bad("RdBu_r")
    vmax = max(1.0, float(np.nanmax(shares)) if np.isfinite(shares).any() else 1.0)
    norm = TwoSlopeNorm(vmin=0.0, vcenter=ideal, vmax=vmax) if experts > 1 else None
    image = ax.imshow(masked, aspect="auto", cmap=cmap, norm=norm, interpolation="nearest")
    names = _labels(expert_names, experts, "expert")
    ax.set_xticks(range(experts), names, rotation=30 if experts > 4 else 0, ha="right" if experts > 4 else "center")
    step = max(1, math.ceil(layers / 40))
    ax.set_yticks(range(0, layers, step))
    ax.set_xlabel("expert")
    ax.set_ylabel("layer")
    ax.set_title(f"{title}\nbalanced share 1/E = 1/{experts} = {ideal:.1%} (white)")
    if layers * experts <= MAX_ANNOTATED_CELLS:
        for i in range(layers):
            for j in range(experts):
                value = shares[i, j]
                if np.isfinite(value):
                    colour = _text_colour(image.cmap(image.norm(value)))
                    ax.text(j, i, f"{value:.0%}", ha="center", va="center", fontsize=8, color=colour)
    fig.colorbar(image, ax=ax, label="share of routed tokens")
    return _save(fig, path, dpi)


def _cmap_with_bad(name: str):
    from matplotlib import colormaps

    return colormaps[name].with_extremes(bad="0.8")


def _series(history: Sequence[Mapping[str, Any]], key: str) -> tuple[np.ndarray, np.ndarray]:
    steps, values = [], []
    for index, row in enumerate(history):
        if key not in row or row[key] is None:
            continue
        value = _as_array(row[key])
        if value.size != 1 or not np.isfinite(value).all():
            continue
        step = _as_array(row.get("step", index))
        steps.append(float(step.reshape(-1)[0]) if step.size else float(index))
        values.append(float(value.reshape(-1)[0]))
    return np.asarray(steps), np.asarray(values)


def plot_training_curves(
    history: Sequence[Mapping[str, Any]],
    path: str | Path,
    title: str = "Training curves",
    figsize: tuple[float, float] | None = None,
    dpi: int = DEFAULT_DPI,
) -> Path:
    """Stacked panels over ``step``: losses, auxiliary MoE losses, learning rate, routing entropy.

    Rows may hold any subset of keys; a panel appears only when one of its keys has data.
    Auxiliary losses get their own panel because they are orders of magnitude smaller
    than the language-model loss and would lie flat on its axis.
    """
    history = list(history or [])
    panels = [
        ("loss", MAIN_LOSS_KEYS),
        ("auxiliary loss", AUX_LOSS_KEYS),
        ("learning rate", LR_KEYS),
        ("routing entropy", ENTROPY_KEYS),
    ]
    drawn = []
    for label, keys in panels:
        lines = [(k, *_series(history, k)) for k in keys]
        lines = [line for line in lines if line[1].size]
        if lines:
            drawn.append((label, lines))
    count = max(1, len(drawn))
    fig = Figure(figsize=figsize or (10.0, 1.0 + 2.6 * count), layout="constrained")
    axes = fig.subplots(count, 1, sharex=True, squeeze=False)[:, 0]
    if not drawn:
        _no_data(axes[0], title)
        return _save(fig, path, dpi)
    fig.suptitle(title)
    for ax, (label, lines) in zip(axes, drawn, strict=True):
        for key, steps, values in lines:
            sparse = key.startswith("val/") or len(values) < 20
            ax.plot(steps, values, marker="o" if sparse else None, markersize=3, label=key)
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
        ax.legend(loc="best", fontsize=8)
        if label == "learning rate":
            ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
    axes[-1].set_xlabel("step")
    return _save(fig, path, dpi)


def plot_confusion_matrix(
    matrix: Any,
    labels: Sequence[str] | None,
    path: str | Path,
    title: str = "Routing vs domain label",
    predicted_labels: Sequence[str] | None = None,
    xlabel: str = "predicted (routed expert)",
    ylabel: str = "true (domain label)",
    figsize: tuple[float, float] | None = None,
    dpi: int = DEFAULT_DPI,
) -> Path:
    """Confusion matrix [true, predicted]: colour is the row share, cells show share and count."""
    data = _as_array(matrix)
    rows, cols = (data.shape if data.ndim == 2 else (0, 0))
    if figsize is None:
        figsize = (max(5.0, 1.2 * cols + 3.0), max(4.0, 0.8 * rows + 2.0))
    fig = Figure(figsize=figsize, layout="constrained")
    ax = fig.add_subplot()
    if data.ndim != 2 or data.size == 0 or not np.isfinite(data).any():
        _no_data(ax, title)
        return _save(fig, path, dpi)
    counts = np.where(np.isfinite(data), data, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        totals = counts.sum(axis=1, keepdims=True)
        shares = np.where(totals > 0, counts / totals, np.nan)
    image = ax.imshow(np.ma.masked_invalid(shares), cmap=_cmap_with_bad("Blues"), vmin=0.0, vmax=1.0,
                      aspect="auto", interpolation="nearest")
    true_names = _labels(labels, rows, "class")
    predicted_names = _labels(predicted_labels if predicted_labels is not None else labels, cols, "class")
    ax.set_xticks(range(cols), predicted_names, rotation=30, ha="right")
    ax.set_yticks(range(rows), true_names)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    diagonal = min(rows, cols)
    total = counts.sum()
    accuracy = np.trace(counts[:diagonal, :diagonal]) / total if total > 0 else float("nan")
    ax.set_title(f"{title}\naccuracy {accuracy:.1%} of {total:g}" if total > 0 else title)
    if rows * cols <= MAX_ANNOTATED_CELLS:
        for i in range(rows):
            for j in range(cols):
                share = shares[i, j]
                text = f"{share:.0%}\n({counts[i, j]:g})" if np.isfinite(share) else "-"
                colour = _text_colour(image.cmap(image.norm(share))) if np.isfinite(share) else "black"
                ax.text(j, i, text, ha="center", va="center", fontsize=8, color=colour)
    fig.colorbar(image, ax=ax, label="share of row")
    return _save(fig, path, dpi)


def _binned_medians(x: np.ndarray, y: np.ndarray, bins: int = 10) -> tuple[np.ndarray, np.ndarray]:
    if x.size < 4:
        return np.zeros(0), np.zeros(0)
    edges = np.unique(np.quantile(x, np.linspace(0.0, 1.0, min(bins, x.size // 2) + 1)))
    centres, medians = [], []
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        inside = (x >= low) & ((x < high) | (high == edges[-1]))
        if inside.any():
            centres.append(float(np.median(x[inside])))
            medians.append(float(np.median(y[inside])))
    return np.asarray(centres), np.asarray(medians)


def plot_ppl_by_length(
    lengths: Any,
    ppls: Any,
    path: str | Path,
    baseline: float | Sequence[float] | None = None,
    title: str = "Perplexity by conversation length",
    figsize: tuple[float, float] | None = None,
    dpi: int = DEFAULT_DPI,
) -> Path:
    """Per-sample perplexity against length in tokens, with binned medians.

    ``baseline`` is either one number (drawn as a horizontal line, e.g. the base model's
    corpus perplexity) or per-sample perplexities aligned with ``lengths``.
    """
    x = _as_array(lengths).reshape(-1)
    y = _as_array(ppls).reshape(-1)
    n = min(x.size, y.size)
    x, y = x[:n], y[:n]
    keep = np.isfinite(x) & np.isfinite(y) & (y > 0)
    fig = Figure(figsize=figsize or (8.0, 5.0), layout="constrained")
    ax = fig.add_subplot()
    if not keep.any():
        _no_data(ax, title)
        return _save(fig, path, dpi)
    ax.scatter(x[keep], y[keep], s=10, alpha=0.4, label="model", color="C0")
    cx, cy = _binned_medians(x[keep], y[keep])
    if cx.size:
        ax.plot(cx, cy, color="C0", linewidth=2, label="model (binned median)")
    shown = [y[keep]]
    base = _as_array(baseline).reshape(-1) if baseline is not None else np.zeros(0)
    if base.size == 1 and np.isfinite(base[0]) and base[0] > 0:
        ax.axhline(base[0], color="C3", linestyle="--", label=f"baseline {base[0]:.2f}")
        shown.append(base)
    elif base.size > 1:
        base = base[:n]
        bkeep = keep[: base.size] & np.isfinite(base) & (base > 0)
        if bkeep.any():
            ax.scatter(x[: base.size][bkeep], base[bkeep], s=10, alpha=0.3, color="C3", label="baseline")
            bx, by = _binned_medians(x[: base.size][bkeep], base[bkeep])
            if bx.size:
                ax.plot(bx, by, color="C3", linewidth=2, label="baseline (binned median)")
            shown.append(base[bkeep])
    values = np.concatenate(shown)
    if values.min() > 0 and values.max() / values.min() > 20:
        ax.set_yscale("log")
    ax.set_xlabel("length (tokens)")
    ax.set_ylabel("perplexity")
    ax.set_title(f"{title}\n{int(keep.sum())} samples, median {np.median(y[keep]):.2f}")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    return _save(fig, path, dpi)
