"""The prepared-dataset format: reading (:func:`open_dataset`) and a small in-memory writer.

On disk, ``DIR/`` holds ``signals.npy`` (N, 12, T) float32/float16 mV, ``labels.npy`` (N, C)
uint8, ``records.csv``, ``rejected.csv`` and ``manifest.json``; the manifest is written last and
its presence marks the dataset complete. ``docs/data.md`` specifies the format.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from threekg import __version__
from threekg.errors import InputError
from threekg.leads import LEADS

MANIFEST = "manifest.json"
RECORD_COLUMNS = ("record", "source_file", "patient_id", "age", "sex", "fs_original",
                  "n_samples_original", "codes")
"""Columns every ``records.csv`` has, in this order (``strat_fold`` and others may follow)."""
_STR_COLUMNS = {"record": str, "source_file": str, "patient_id": str, "sex": str, "codes": str}
_NUMERIC_COLUMNS = ("age", "fs_original", "n_samples_original", "strat_fold")


class DatasetError(InputError):
    """A folder that is not a complete, consistent prepared dataset (an :class:`~threekg.errors.InputError`)."""


@dataclass
class PreparedDataset:
    """A prepared dataset opened read-only.

    ``signals``: memmap (N, 12, T) mV in :data:`threekg.leads.LEADS` order; ``labels``: (N, C) uint8;
    ``records``: N rows, same order; ``fs`` in Hz; ``n_samples`` is T.
    """

    path: Path
    signals: np.ndarray
    labels: np.ndarray
    label_names: list[str]
    records: pd.DataFrame
    fs: float
    n_samples: int
    manifest: dict[str, Any]

    def __len__(self) -> int:
        return int(self.signals.shape[0])

    @property
    def rejected(self) -> pd.DataFrame:
        """``record, reason`` of every record not taken."""
        return pd.read_csv(self.path / "rejected.csv", dtype=str, keep_default_na=False)


def read_records_csv(path: Path) -> pd.DataFrame:
    """Read a ``records.csv`` with identifiers kept as strings and empty numbers as NaN."""
    df = pd.read_csv(path, dtype=_STR_COLUMNS, keep_default_na=False)
    for col in _NUMERIC_COLUMNS:
        if col in df.columns:
            df[col] = pd.to_numeric(df[col], errors="coerce")
    return df


def open_dataset(path: str | Path) -> PreparedDataset:
    """Open a prepared dataset (signals memory-mapped read-only).

    Raises:
        DatasetError: no manifest (absent or incomplete dataset) or files that disagree with it.
    """
    path = Path(path)
    manifest_path = path / MANIFEST
    if not path.is_dir():
        raise DatasetError(f"{path}: no such folder", hint="give a folder written by `threekg prepare`")
    if not manifest_path.is_file():
        raise DatasetError(f"{path}: not a complete prepared dataset (no {MANIFEST})",
                           hint="make it with `threekg prepare SRC --out DIR`, or re-run an interrupted prepare")
    try:
        manifest = json.loads(manifest_path.read_text())
        n, t, names = manifest["n_records"], manifest["n_samples"], list(manifest["label_names"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DatasetError(f"{manifest_path}: unreadable manifest ({type(exc).__name__}: {exc})",
                           hint="prepare the dataset again") from exc
    try:
        signals = np.load(path / "signals.npy", mmap_mode="r")
        labels = np.load(path / "labels.npy", mmap_mode="r")
        records = read_records_csv(path / "records.csv")
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{path}: cannot read dataset files ({exc})") from exc
    if signals.shape != (n, len(LEADS), t):
        raise DatasetError(f"{path}: signals.npy has shape {signals.shape}, manifest says {(n, len(LEADS), t)}")
    if labels.shape != (n, len(names)) or labels.dtype != np.uint8:
        raise DatasetError(f"{path}: labels.npy has shape {labels.shape} {labels.dtype}, expected {(n, len(names))} uint8")
    if len(records) != n:
        raise DatasetError(f"{path}: records.csv has {len(records)} rows, manifest says {n}")
    return PreparedDataset(path, signals, labels, names, records, float(manifest["fs"]), int(t), manifest)


def normalise_records(records: pd.DataFrame) -> pd.DataFrame:
    """Add missing standard columns, fill ``patient_id`` with the record id when unknown, order columns."""
    df = records.copy()
    if "record" not in df.columns:
        raise ValueError("records table needs a 'record' column")
    df["record"] = df["record"].astype(str)
    defaults: dict[str, Any] = {"source_file": "", "patient_id": "", "age": np.nan, "sex": "",
                                "fs_original": np.nan, "n_samples_original": np.nan, "codes": ""}
    for col, value in defaults.items():
        if col not in df.columns:
            df[col] = value
    pid = df["patient_id"].fillna("").astype(str)
    df["patient_id"] = pid.where(pid != "", df["record"])
    extra = [c for c in df.columns if c not in RECORD_COLUMNS]
    return df[list(RECORD_COLUMNS) + extra]


def write_csv_atomic(df: pd.DataFrame, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    df.to_csv(tmp, index=False, lineterminator="\n")
    os.replace(tmp, path)


def manifest_dict(*, n_records: int, fs: float, n_samples: int, label_set: str,
                  label_names: Sequence[str], n_rejected: int, source: str,
                  options: dict[str, Any], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The manifest's content (deterministic: no timestamps, keys sorted when written)."""
    out: dict[str, Any] = {
        "n_records": int(n_records), "fs": float(fs), "n_samples": int(n_samples), "leads": list(LEADS),
        "label_set": label_set, "label_names": list(label_names), "n_rejected": int(n_rejected),
        "source": source, "threekg_version": __version__, "options": options,
    }
    out.update(extra or {})
    return out


def write_json_atomic(obj: dict[str, Any], path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as fh:
        json.dump(obj, fh, indent=2, sort_keys=True)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


@contextmanager
def staged_folder(out: Path) -> Iterator[Path]:
    """A new folder next to ``out`` to fill; on success it replaces ``out`` (rename), on error it is removed.

    Readers never see a half-written dataset under ``out``: the folder appears whole, manifest included.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        yield tmp
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_dataset(out: str | Path, signals: np.ndarray, labels: np.ndarray, label_names: Sequence[str],
                  records: pd.DataFrame, fs: float, label_set: str, source: str,
                  options: dict[str, Any] | None = None, *, rejected: pd.DataFrame | None = None,
                  overwrite: bool = False) -> PreparedDataset:
    """Write a prepared dataset from in-memory arrays (tests, small collections, the arrays path).

    Args:
        signals: (N, 12, T) mV in LEADS order, float32 or float16 (other floats become float32).
        labels: (N, C) 0/1. records: N rows with at least a ``record`` column (other standard
            columns are added; an empty ``patient_id`` becomes the record id).
        rejected: optional ``record, reason`` table.

    Atomic: everything is written into a temporary sibling folder (manifest last) that is then
    renamed to ``out``. Raises FileExistsError when ``out`` exists, unless ``overwrite``.
    """
    out = Path(out)
    signals = np.asarray(signals)
    if signals.ndim != 3 or signals.shape[1] != len(LEADS):
        raise ValueError(f"signals must be (N, 12, T), got {signals.shape}")
    if signals.dtype not in (np.float32, np.float16):
        signals = signals.astype(np.float32)
    labels = np.asarray(labels)
    n = signals.shape[0]
    if labels.shape != (n, len(label_names)):
        raise ValueError(f"labels must be {(n, len(label_names))}, got {labels.shape}")
    if not np.isin(labels, (0, 1)).all():
        raise ValueError("labels must be 0/1")
    if len(records) != n:
        raise ValueError(f"records has {len(records)} rows for {n} signals")
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise FileExistsError(f"{out} exists; pass overwrite=True to replace it")
    rej = rejected if rejected is not None else pd.DataFrame({"record": [], "reason": []})
    with staged_folder(out) as tmp:
        np.save(tmp / "signals.npy", signals)
        np.save(tmp / "labels.npy", labels.astype(np.uint8))
        normalise_records(records).to_csv(tmp / "records.csv", index=False, lineterminator="\n")
        rej[["record", "reason"]].to_csv(tmp / "rejected.csv", index=False, lineterminator="\n")
        manifest = manifest_dict(n_records=n, fs=fs, n_samples=signals.shape[2], label_set=label_set,
                                 label_names=label_names, n_rejected=len(rej), source=source,
                                 options=dict(options or {}))
        write_json_atomic(manifest, tmp / MANIFEST)
    return open_dataset(out)
