"""Pictures of ECGs and their augmented views (matplotlib, Agg backend; no display needed).

``plot_views`` draws the original 12 leads, each view's 12 leads, and the heart-vector loop in the
three planes (frontal X-Y, horizontal X-Z, sagittal Y-Z) of the original and of every view.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from threekg.leads import LEADS
from threekg.vcg import VcgMatrix, ecg_to_vcg

PLANES: tuple[tuple[str, int, int], ...] = (
    ("frontal X-Y", 0, 1),
    ("horizontal X-Z", 0, 2),
    ("sagittal Y-Z", 1, 2),
)
"""(title, horizontal axis index, vertical axis index) of the three VCG planes."""

_COLOURS = ("black", "tab:blue", "tab:orange", "tab:green", "tab:red")


def _check(ecg: np.ndarray, what: str) -> np.ndarray:
    a = np.asarray(ecg, dtype=np.float64)
    if a.ndim != 2 or a.shape[0] != len(LEADS):
        raise ValueError(f"{what}: expected an array of shape (12, T), got {a.shape}")
    return a


def _draw_leads(axes: Sequence[Axes], ecg: np.ndarray, fs: float, colour: str, label: str) -> None:
    t = np.arange(ecg.shape[1]) / fs
    for ax, lead, trace in zip(axes, LEADS, ecg, strict=True):
        ax.plot(t, trace, color=colour, linewidth=0.6)
        ax.set_ylabel(lead, rotation=0, labelpad=14, fontsize=8)
        ax.tick_params(labelsize=6)
        ax.grid(True, linewidth=0.3, alpha=0.5)
    axes[0].set_title(label, fontsize=8)
    axes[-1].set_xlabel("time (s)", fontsize=8)


def _draw_loops(axes: Sequence[Axes], vcgs: Sequence[np.ndarray], labels: Sequence[str]) -> None:
    for ax, (title, i, j) in zip(axes, PLANES, strict=True):
        for k, (vcg, label) in enumerate(zip(vcgs, labels, strict=True)):
            ax.plot(vcg[i], vcg[j], color=_COLOURS[k % len(_COLOURS)], linewidth=0.5, alpha=0.8, label=label)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("XYZ"[i] + " (mV)", fontsize=8)
        ax.set_ylabel("XYZ"[j] + " (mV)", fontsize=8)
        if j == 1:
            ax.invert_yaxis()  # Y points to the feet: inferior down, as in clinical VCG plots
        ax.set_aspect("equal", adjustable="datalim")
        ax.tick_params(labelsize=6)
        ax.grid(True, linewidth=0.3, alpha=0.5)
    axes[1].legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=len(labels))


def plot_views(
    ecg: np.ndarray,
    fs: float,
    views: Sequence[np.ndarray],
    out_png: str | Path,
    title: str = "",
    view_labels: Sequence[str] | None = None,
    matrix: VcgMatrix = "inverse_dower",
    vcg_views: Sequence[np.ndarray] | None = None,
) -> Path:
    """Draw an ECG, its augmented views and the VCG loops before and after; write a PNG.

    Args:
        ecg: (12, T) original, mV, :data:`LEADS` order; ``fs`` in Hz.
        views: each (12, T') augmented view (drawn as its own column of 12 leads).
        out_png: output file (parent folders are created).
        title: page title.
        view_labels: one label per view (default "view 1", ...).
        matrix: ECG-to-VCG matrix for the loops.
        vcg_views: optional (12, T') ECGs whose loops are drawn as "after" (default: ``views``). Pass the
            unmasked spatial views here: a time mask zeroes half of each lead and would scramble the loop.

    Returns:
        The path of the written PNG.
    """
    original = _check(ecg, "plot_views ecg")
    view_arrays = [_check(v, f"plot_views view {k}") for k, v in enumerate(views)]
    labels = list(view_labels) if view_labels is not None else [f"view {k + 1}" for k in range(len(views))]
    loop_sources = [_check(v, "plot_views vcg view") for v in (vcg_views if vcg_views is not None else views)]
    n_cols = 1 + len(view_arrays)
    fig: Figure = plt.figure(figsize=(4.2 * n_cols, 15))
    grid = fig.add_gridspec(12 + 4, n_cols, hspace=0.35, wspace=0.3, top=0.95)
    for col, (array, label) in enumerate(zip([original, *view_arrays], ["original", *labels], strict=True)):
        axes = [fig.add_subplot(grid[row, col]) for row in range(12)]
        for ax in axes[:-1]:
            ax.tick_params(labelbottom=False)
        _draw_leads(axes, array, fs, _COLOURS[col % len(_COLOURS)], label)
    loop_grid = grid[13:, :].subgridspec(1, 3, wspace=0.35)
    loop_axes = [fig.add_subplot(loop_grid[0, k]) for k in range(3)]
    vcgs = [ecg_to_vcg(a, matrix) for a in [original, *loop_sources]]
    _draw_loops(loop_axes, vcgs, ["original", *labels[: len(loop_sources)]])
    if title:
        fig.suptitle(title, fontsize=11)
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90, bbox_inches="tight")
    plt.close(fig)
    return out


def plot_ecg(ecg: np.ndarray, fs: float, out_png: str | Path, title: str = "") -> Path:
    """Draw one 12-lead ECG (12, T) in mV at ``fs`` Hz to a PNG; returns its path."""
    array = _check(ecg, "plot_ecg")
    fig, axes = plt.subplots(12, 1, figsize=(10, 12), sharex=True)
    _draw_leads(list(axes), array, fs, "black", title)
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90, bbox_inches="tight")
    plt.close(fig)
    return out
