"""What a prepare worker process runs: one chunk of candidates -> signals and outcomes.

Kept light: it needs only the WFDB/MATLAB readers, ``numpy`` and ``scipy.signal``, and must never
import ``torch`` (``spawn``/``forkserver`` workers import it afresh; ``tests/data/test_pool.py``
checks it). ``threekg/data/__init__.py`` still imports ``pandas`` eagerly (+~1 s per forkserver
pool): a lazy package made ``from threekg.data import prepare`` return the *module* once
``threekg.data.prepare`` had been imported.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from threekg.data.errors import RecordError
from threekg.data.npyfile import read_header
from threekg.data.record import read_record, validate_signal
from threekg.data.resample import fix_length
from threekg.leads import LEADS


@dataclass(frozen=True)
class Candidate:
    """One record to try: ``ref`` is a header path (WFDB kinds) or a row index (arrays)."""

    record: str
    ref: str | int
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Processing:
    """What every candidate goes through: resample to ``fs`` Hz, ``n_samples`` long, ``dtype``."""

    fs: float
    n_samples: int
    short: str
    dtype: str
    needs_dx: bool
    src: str
    kind: str
    arrays_fs: float = 0.0
    arrays_key: str = ""


def read_array_row(path: Path, key: str, index: int) -> np.ndarray:
    """Row ``index`` (12, T) of a ``.npy`` (memory-mapped) or ``.npz`` member (streamed), as float64."""
    if not key:
        return np.asarray(np.load(path, mmap_mode="r")[index], dtype=np.float64)
    with zipfile.ZipFile(path) as zf, zf.open(key) as fh:
        _, shape, fortran, dtype = read_header(fh)  # type: ignore[arg-type]
        if fortran:
            raise ValueError(f"{path}: Fortran-ordered arrays are not supported")
        row_bytes = int(np.prod(shape[1:])) * dtype.itemsize
        fh.seek(fh.tell() + index * row_bytes)
        return np.frombuffer(fh.read(row_bytes), dtype=dtype).reshape(shape[1:]).astype(np.float64)


def process_candidate(c: Candidate, p: Processing) -> tuple[np.ndarray, dict[str, Any]]:
    """Read, validate, resample and crop one candidate.

    Returns:
        signal (12, n_samples) in ``p.dtype`` (mV) and its ``records.csv`` row.

    Raises:
        RecordError: the one-line reason it goes to ``rejected.csv``.
    """
    meta = dict(c.meta)
    if p.kind == "arrays":
        assert isinstance(c.ref, int)
        signal = read_array_row(Path(p.src), p.arrays_key, c.ref)
        validate_signal(c.record, signal)
        fs_in, source_file = p.arrays_fs, f"{Path(p.src).name}[{c.ref}]"
    else:
        rec = read_record(str(c.ref))
        signal, fs_in = rec.signal, rec.fs
        source_file = Path(str(c.ref)).relative_to(p.src).as_posix()
        if "codes" not in meta:
            if p.needs_dx and not rec.has_dx:
                raise RecordError(str(c.ref), "no # Dx in header")
            if p.needs_dx and not rec.codes:
                raise RecordError(str(c.ref), "empty # Dx")
            meta["codes"] = rec.codes
        meta.setdefault("age", rec.age)
        meta.setdefault("sex", rec.sex)
        if rec.comments.get("patient", "").strip():  # `#Patient: ID` (threekg synth, several recordings each)
            meta.setdefault("patient_id", rec.comments["patient"].strip())
    try:
        out = fix_length(signal, fs_in, p.fs, p.n_samples, p.short)
    except ValueError as exc:
        raise RecordError(str(c.ref), str(exc)) from None
    row: dict[str, Any] = {
        "record": c.record, "source_file": source_file, "patient_id": str(meta.get("patient_id") or c.record),
        "age": meta.get("age"), "sex": meta.get("sex") or "", "fs_original": float(fs_in),
        "n_samples_original": int(signal.shape[1]), "codes": ";".join(meta.get("codes", [])),
    }
    if "strat_fold" in meta:
        row["strat_fold"] = int(meta["strat_fold"])
    return out.astype(p.dtype), row


def run_chunk(args: tuple[list[Candidate], Processing]) -> tuple[np.ndarray, list[list[Any]]]:
    """Process candidates; returns accepted signals (k, 12, n_samples) and one outcome per candidate.

    An outcome is ``[record, "ok", row]`` or ``[record, "rejected", reason]``.
    """
    cands, proc = args
    rows: list[np.ndarray] = []
    outcomes: list[list[Any]] = []
    for c in cands:
        try:
            signal, row = process_candidate(c, proc)
        except RecordError as exc:
            outcomes.append([c.record, "rejected", exc.reason])
            continue
        except Exception as exc:  # a reader bug must not kill the run; the reason names it
            outcomes.append([c.record, "rejected", f"unexpected error: {type(exc).__name__}: {exc}"])
            continue
        rows.append(signal)
        outcomes.append([c.record, "ok", row])
    empty = np.zeros((0, len(LEADS), proc.n_samples), dtype=proc.dtype)
    return (np.stack(rows) if rows else empty), outcomes
