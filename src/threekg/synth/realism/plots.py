"""Figures of the realism measure: feature distributions and per-lead amplitude profiles, synth vs real."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from threekg.leads import LEADS
from threekg.synth.realism.features import GLOBAL_FEATURES, PRECORDIAL


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_distributions(sets: dict[str, pd.DataFrame], path: str | Path,
                       features: Sequence[str] = GLOBAL_FEATURES) -> Path:
    """One histogram panel per feature, every set overlaid (density), the first real set's IQR shaded.

    ``sets``: name -> feature table, e.g. ``{"synth": ..., "real": ...}``; the second entry is the
    reference whose IQR is shaded.
    """
    plt = _plt()
    cols = 5
    rows = int(np.ceil(len(features) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.3 * rows), squeeze=False)
    names = list(sets)
    colours = ("tab:orange", "tab:blue", "tab:green", "tab:purple")
    for ax, f in zip(axes.ravel(), features, strict=False):
        values = [sets[n][f].to_numpy(dtype=float) if f in sets[n] else np.array([]) for n in names]
        values = [v[np.isfinite(v)] for v in values]
        allv = np.concatenate([v for v in values if len(v)]) if any(len(v) for v in values) else np.array([0.0])
        lo, hi = np.percentile(allv, [1, 99])
        if hi <= lo:
            lo, hi = lo - 0.5, hi + 0.5
        bins = np.linspace(lo, hi, 30)
        for name, v, c in zip(names, values, colours, strict=False):
            if len(v):
                ax.hist(np.clip(v, lo, hi), bins=bins, density=True, histtype="step", lw=1.4, color=c,
                        label=f"{name} (n={len(v)})")
                ax.axvline(np.median(v), color=c, lw=0.8, ls="--")
        if len(names) > 1 and len(values[1]):
            q25, q75 = np.percentile(values[1], [25, 75])
            ax.axvspan(q25, q75, color=colours[1], alpha=0.12)
        ax.set_title(f, fontsize=9)
        ax.tick_params(labelsize=7)
        ax.set_yticks([])
    for ax in axes.ravel()[len(features):]:
        ax.axis("off")
    axes[0, 0].legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def plot_per_lead(sets: dict[str, pd.DataFrame], path: str | Path) -> Path:
    """Median and IQR across records, per lead: P, QRS and T amplitude, QRS duration, R/(R+S) V1-V6."""
    plt = _plt()
    panels = [("p_amp_mv", LEADS, "P amplitude (mV, signed)"), ("qrs_amp_mv", LEADS, "QRS peak-to-peak (mV)"),
              ("t_amp_mv", LEADS, "T amplitude (mV, signed)"), ("qrs_dur_ms", LEADS, "QRS duration per lead (ms)"),
              ("rs_ratio", PRECORDIAL, "R/(R+S), V1-V6")]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.0 * len(panels), 3.2))
    colours = ("tab:orange", "tab:blue", "tab:green", "tab:purple")
    for ax, (prefix, leads, title) in zip(axes, panels, strict=True):
        x = np.arange(len(leads))
        for k, (name, df) in enumerate(sets.items()):
            cols = [f"{prefix}_{lead}" for lead in leads]
            if not all(c in df for c in cols) or df.empty:
                continue
            q = np.nanpercentile(df[cols].to_numpy(dtype=float), [25, 50, 75], axis=0)
            c = colours[k % len(colours)]
            ax.plot(x, q[1], "o-", color=c, lw=1.2, ms=3, label=name)
            ax.fill_between(x, q[0], q[2], color=c, alpha=0.18)
        ax.set_xticks(x, leads, fontsize=7, rotation=90 if len(leads) > 6 else 0)
        ax.set_title(title, fontsize=9)
        ax.tick_params(labelsize=7)
        ax.axhline(0, color="0.7", lw=0.6)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
