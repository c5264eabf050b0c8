"""CSV metrics across resumed legs of a run.

Lightning's CSVLogger deletes an existing ``metrics.csv`` when it starts, so before a resumed
leg starts the previous file is moved to ``metrics.part-NN.csv``; when the run completes,
:func:`merge_csv_parts` writes one ``metrics.csv`` with every leg, dropping the rows of steps that
a later leg redid (those after the checkpoint it resumed from).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def stash_csv(csv_dir: Path) -> None:
    """Move ``csv_dir/metrics.csv`` (if any) to the next free ``metrics.part-NN.csv``."""
    current = csv_dir / "metrics.csv"
    if not current.is_file():
        return
    n = len(list(csv_dir.glob("metrics.part-*.csv")))
    current.replace(csv_dir / f"metrics.part-{n:02d}.csv")


def merge_csv_parts(csv_dir: Path) -> None:
    """Write ``metrics.csv`` = every part then the current file, without redone steps."""
    parts = sorted(csv_dir.glob("metrics.part-*.csv"))
    if not parts:
        return
    frames = [pd.read_csv(p) for p in parts]
    if (csv_dir / "metrics.csv").is_file():
        frames.append(pd.read_csv(csv_dir / "metrics.csv"))
    kept = []
    for i, frame in enumerate(frames):
        later = [f["step"].min() for f in frames[i + 1 :] if len(f)]
        kept.append(frame[frame["step"] < min(later)] if later else frame)
    merged = pd.concat(kept, ignore_index=True)
    tmp = csv_dir / "metrics.csv.tmp"
    merged.to_csv(tmp, index=False)
    tmp.replace(csv_dir / "metrics.csv")
    for p in parts:
        p.unlink()
