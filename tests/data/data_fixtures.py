"""Generated WFDB records (challenge-style .mat or .dat) for the data-layer tests."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from threekg.leads import LEADS


def ecg_like(n: int, fs: float, seed: int = 0) -> np.ndarray:
    """(12, n) mV: a few sines per lead, amplitude ~1 mV, never flat."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / fs
    f = rng.uniform(0.8, 3.0, size=(12, 1))
    return 0.8 * np.sin(2 * np.pi * f * t) + 0.2 * np.sin(2 * np.pi * 7.0 * t + rng.uniform(0, 6, (12, 1)))


def write_mat(path: Path, val: np.ndarray, *, name: str = "val", mopt: int = 30) -> None:
    """MATLAB v4 file with one variable (default int16, little endian)."""
    dtype = {30: "<i2", 0: "<f8", 20: "<i4"}[mopt]
    rows, cols = val.shape
    nm = name.encode() + b"\x00"
    head = np.array([mopt, rows, cols, 0, len(nm)], dtype="<i4").tobytes()
    path.write_bytes(head + nm + np.asarray(val, dtype=dtype).T.tobytes())


def write_record(folder: Path, name: str, signal_mv: np.ndarray | None = None, *, fs: float = 500.0,
                 n: int = 5000, gains: Sequence[float] | None = None, baselines: Sequence[int] | None = None,
                 names: Sequence[str] = LEADS, units: str = "mV", fmt: str = "16x1+24", ext: str = "mat",
                 comments: Sequence[str] = ("# Age: 60", "# Sex: Female", "# Dx: 426783006"),
                 header_n: int | None = None, header_nsig: int | None = None, seed: int = 0,
                 digital: np.ndarray | None = None) -> Path:
    """Write ``name.hea`` + ``name.mat`` (or ``.dat`` format 16); returns the header path."""
    folder.mkdir(parents=True, exist_ok=True)
    k = len(names)
    gains = list(gains) if gains is not None else [1000.0] * k
    baselines = list(baselines) if baselines is not None else [0] * k
    if digital is None:
        sig = signal_mv if signal_mv is not None else ecg_like(n, fs, seed)[:k]
        digital = np.round(sig * np.array(gains)[:, None] + np.array(baselines)[:, None]).astype(np.int16)
    file_name = f"{name}.{ext}"
    if ext == "mat":
        write_mat(folder / file_name, digital)
    else:
        (folder / file_name).write_bytes(np.asarray(digital, dtype="<i2").T.tobytes())
        fmt = fmt.split("x")[0].split("+")[0]
    lines = [f"{name} {header_nsig if header_nsig is not None else k} {fs:g} "
             f"{header_n if header_n is not None else digital.shape[1]}"]
    for i, lead in enumerate(names):
        lines.append(f"{file_name} {fmt} {gains[i]:g}({baselines[i]})/{units} 16 0 {int(digital[i, 0])} 0 0 {lead}")
    lines += list(comments)
    hea = folder / f"{name}.hea"
    hea.write_text("\n".join(lines) + "\n")
    return hea
