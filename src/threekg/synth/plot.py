"""12-lead plots in the clinical 3 x 4 layout (2.5 s per lead, 10 mm/mV, 25 mm/s paper grid)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from threekg.leads import LEADS

_LAYOUT = (("I", "aVR", "V1", "V4"), ("II", "aVL", "V2", "V5"), ("III", "aVF", "V3", "V6"))


def plot_12lead(ecgs: list[np.ndarray], titles: list[str], fs: float, path: str | Path,
                seconds_per_lead: float = 2.5) -> Path:
    """Save one 3 x 4 12-lead panel per record, stacked vertically, to ``path`` (PNG).

    Args:
        ecgs: records, each (12, T) in mV, :data:`threekg.leads.LEADS` order, T >= 4 x seconds_per_lead x fs.
        titles: one title per record.
        fs: sampling rate, Hz.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    seg = round(seconds_per_lead * fs)
    fig, axes = plt.subplots(len(ecgs), 1, figsize=(14, 4.2 * len(ecgs)), squeeze=False)
    for ax, ecg, title in zip(axes[:, 0], ecgs, titles, strict=True):
        if ecg.shape[0] != len(LEADS) or ecg.shape[1] < 4 * seg:
            raise ValueError(f"{title}: need (12, >= {4 * seg}) samples, got {ecg.shape}")
        for row, names in enumerate(_LAYOUT):
            for col, name in enumerate(names):
                x = ecg[LEADS.index(name), col * seg : (col + 1) * seg]
                t = col * seconds_per_lead + np.arange(len(x)) / fs
                y0 = -3.0 * row
                ax.plot(t, x - np.median(x) + y0, color="k", lw=0.7)
                ax.text(col * seconds_per_lead + 0.05, y0 + 0.9, name, fontsize=9)
        ax.set_xlim(0, 4 * seconds_per_lead)
        ax.set_ylim(-8.0, 1.8)
        ax.set_xticks(np.arange(0, 4 * seconds_per_lead + 1e-9, 0.2), minor=False)
        ax.set_yticks(np.arange(-8.0, 1.81, 0.5))
        ax.grid(True, color="#f4a0a0", lw=0.5)
        ax.tick_params(labelbottom=False, labelleft=False, length=0)
        ax.set_aspect(0.4)  # 0.2 s : 0.5 mV squares, as on paper
        ax.set_title(title, fontsize=10, loc="left")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
