"""Load one ECG from a prepared dataset or a record file and draw two 3KG views of it (the ``augment`` command)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from threekg.augment.plot import plot_views
from threekg.augment.spatial import ThreeKGSpatial
from threekg.augment.temporal import TimeMask
from threekg.errors import InputError, UsageError
from threekg.vcg import VcgMatrix


def load_ecg(src: str | Path, index: int = 0) -> tuple[np.ndarray, float, str]:
    """(12, T) mV float64, fs in Hz, and a name, from a prepared dataset (row ``index``) or one WFDB record."""
    from threekg.data import open_dataset, read_record

    path = Path(src)
    if path.is_dir() and (path / "manifest.json").exists():
        ds = open_dataset(path)
        if not 0 <= index < len(ds):
            raise UsageError(f"{path}: index {index} out of range for {len(ds)} records",
                             hint=f"give an index from 0 to {len(ds) - 1}")
        name = str(ds.records.iloc[index]["record"])
        return np.asarray(ds.signals[index], dtype=np.float64), float(ds.fs), name
    if path.is_dir():
        raise InputError(f"{path}: not a prepared dataset (no manifest.json) and not a record file",
                         hint="give a folder written by `threekg prepare`, or a record's .hea file")
    rec = read_record(path)
    return np.asarray(rec.signal, dtype=np.float64), float(rec.fs), str(rec.name)


def draw_threekg_views(
    src: str | Path,
    out_png: str | Path,
    index: int = 0,
    seed: int = 0,
    angle: float = 45.0,
    scale: float = 1.5,
    scale_low: float = 1.0,
    mask_ratio: float = 0.5,
    residual: bool = False,
    matrix: VcgMatrix = "inverse_dower",
) -> Path:
    """Draw the ECG at ``src`` and two 3KG views (spatial then time mask) with VCG loops; returns the PNG path."""
    ecg, fs, name = load_ecg(src, index)
    spatial = ThreeKGSpatial(angle=angle, scale=scale, scale_low=scale_low, residual=residual, matrix=matrix)
    mask = TimeMask(ratio=mask_ratio)
    g = torch.Generator().manual_seed(seed)
    x = torch.from_numpy(ecg).unsqueeze(0).repeat(2, 1, 1)  # the two views draw their own parameters
    rotated, p = spatial(x, generator=g, return_params=True)
    masked = mask(rotated, generator=g)
    labels = [
        "view {}: angles {} deg\nscales {}".format(
            k + 1,
            np.array2string(p["angles"][k].numpy(), precision=0, separator=","),
            np.array2string(p["scales"][k].numpy(), precision=2, separator=","),
        )
        for k in range(2)
    ]
    title = f"{name} ({fs:g} Hz): 3KG views, {'residual, ' if residual else ''}{matrix}, mask {mask_ratio:g}"
    return plot_views(ecg, fs, list(masked.numpy()), out_png, title, labels, matrix, list(rotated.numpy()))
