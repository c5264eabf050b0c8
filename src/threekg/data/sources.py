"""Collections a prepared dataset can be made from, and how each candidate record is processed.

A :class:`Source` lists its candidates (sorted, deterministic) up front; workers turn chunks of
candidates into rows (:func:`process_candidate`). Formats: ``cinc`` (CinC 2020/2021 trees),
``ptbxl``, ``wfdb`` (any WFDB folder, labels from a CSV) and ``arrays`` (``.npy``/``.npz``).
"""

from __future__ import annotations

import ast
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from threekg.data.npyfile import read_header
from threekg.data.worker import Candidate, Processing, process_candidate, read_array_row
from threekg.errors import DataError, InputError, UsageError, one_line

__all__ = [
    "FORMATS",
    "Candidate",
    "Processing",
    "Source",
    "arrays_shape",
    "detect_format",
    "open_source",
    "process_candidate",
    "read_array_row",
    "read_labels_csv",
]

FORMATS = ("auto", "cinc", "ptbxl", "wfdb", "arrays")
_META_COLUMNS = ("record", "patient_id", "age", "sex", "strat_fold")



@dataclass
class Source:
    kind: str
    root: Path
    candidates: list[Candidate]
    default_label_set: str
    statements: pd.DataFrame | None = None
    csv_columns: list[str] | None = None
    rejected_upfront: list[tuple[str, str]] = field(default_factory=list)
    arrays_key: str = ""


def detect_format(src: Path, labels: Path | None) -> str:
    if src.is_file() and src.suffix.lower() in {".npy", ".npz"}:
        return "arrays"
    if not src.exists():
        raise InputError(f"{src}: no such folder or file (the collection to prepare)", hint="check the path")
    if not src.is_dir():
        raise InputError(f"{src}: not a folder or a .npy/.npz file",
                         hint="give the collection's folder, or an array file of shape (N, 12, T)")
    if (src / "ptbxl_database.csv").is_file():
        return "ptbxl"
    if labels is not None:
        return "wfdb"
    first = next(iter(sorted(src.rglob("*.hea"))), None)
    return "cinc" if first is not None and _has_dx(first) else "wfdb"


def _has_dx(header: Path) -> bool:
    try:
        text = header.read_bytes()[:65536].decode("latin-1")
    except OSError:
        return False
    return any(line.lstrip("#").strip().lower().startswith("dx") for line in text.splitlines()
               if line.startswith("#"))


def _headers(root: Path) -> list[Candidate]:
    paths = sorted(root.rglob("*.hea"), key=lambda p: p.relative_to(root).as_posix())
    return [Candidate(p.stem, p.as_posix()) for p in paths]


def _dedupe(cands: list[Candidate], root: Path) -> tuple[list[Candidate], list[tuple[str, str]]]:
    seen: dict[str, Candidate] = {}
    keep, rejected = [], []
    for c in cands:
        if c.record in seen:
            other = Path(str(seen[c.record].ref)).relative_to(root).as_posix()
            rejected.append((c.record, f"duplicate record id (also {other})"))
        else:
            seen[c.record] = c
            keep.append(c)
    return keep, rejected


def read_labels_csv(path: Path) -> tuple[pd.DataFrame, list[str]]:
    """A user's labels CSV: a ``record`` column, optional metadata, and one 0/1 column per label."""
    try:
        df = pd.read_csv(path, dtype={"record": str, "patient_id": str}, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: not a readable labels CSV ({one_line(str(err))})") from None
    if "record" not in df.columns:
        raise DataError(f"{path}: the labels CSV has no 'record' column",
                        hint="give one row per record: record, then one 0/1 column per label")
    columns = [c for c in df.columns if c not in _META_COLUMNS]
    for c in columns:
        values = pd.to_numeric(df[c], errors="coerce")
        if not values.isin([0, 1]).all():
            raise DataError(f"{path}: label column {c!r} must hold only 0 and 1")
        df[c] = values.astype(int)
    return df, columns


def as_fold(value: Any) -> int | None:
    """A ``strat_fold`` cell as an int; None when empty or not a whole number (pandas reads a column
    with an empty cell as floats: 1.0, nan)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if np.isfinite(number) and number == int(number) else None


def _csv_meta(row: pd.Series, columns: list[str]) -> dict[str, Any]:
    meta: dict[str, Any] = {"codes": [c for c in columns if row[c] == 1], "has_dx": True}
    for c in ("patient_id", "age", "sex"):
        if c in row.index and str(row[c]) != "":
            meta[c] = row[c]
    fold = as_fold(row["strat_fold"]) if "strat_fold" in row.index else None
    if fold is not None:  # a record without one simply has none (it is left out by --folds)
        meta["strat_fold"] = fold
    return meta


def _ptbxl(root: Path, fs: float, min_likelihood: float | None) -> Source:
    """PTB-XL: every statement of ``scp_codes`` is a code (the benchmark's rule); with ``min_likelihood``
    a diagnostic statement is kept only when its likelihood is > it (rhythm and form statements carry
    no likelihood: PTB-XL stores 0, and they are always kept)."""
    db = pd.read_csv(root / "ptbxl_database.csv")
    statements = pd.read_csv(root / "scp_statements.csv", index_col=0)
    diagnostic = set(statements.index[statements["diagnostic"].fillna(0) == 1])
    use_lr = (fs <= 100 and (root / "records100").is_dir()) or not (root / "records500").is_dir()
    column = "filename_lr" if use_lr else "filename_hr"
    cands = []
    for row in db.to_dict("records"):
        scp = ast.literal_eval(row["scp_codes"]) if isinstance(row["scp_codes"], str) else {}
        codes = [str(c) for c, lik in scp.items()
                 if min_likelihood is None or c not in diagnostic or float(lik) > min_likelihood]
        age = float(row["age"]) if pd.notna(row["age"]) else None
        meta = {
            "patient_id": str(int(row["patient_id"])) if pd.notna(row["patient_id"]) else "",
            "age": 90.0 if age is not None and age >= 300 else age,  # PTB-XL codes ages > 89 as 300
            "sex": {0: "M", 1: "F"}.get(int(row["sex"]), "") if pd.notna(row["sex"]) else "",
            "strat_fold": int(row["strat_fold"]), "codes": codes, "has_dx": True,
        }
        cands.append(Candidate(str(int(row["ecg_id"])), (root / f"{row[column]}.hea").as_posix(), meta))
    return Source("ptbxl", root, cands, "ptbxl-superdiagnostic", statements=statements)


def _arrays(path: Path, labels: Path | None) -> Source:
    n, _, _, key = arrays_shape(path)
    ids = [str(i) for i in range(n)]
    metas: list[dict[str, Any]] = [{} for _ in range(n)]
    columns: list[str] | None = None
    if labels is not None:
        df, columns = read_labels_csv(labels)
        if len(df) != n:
            raise DataError(f"{labels}: {len(df)} rows for {n} arrays in {path}")
        if "record" in df.columns:
            ids = df["record"].astype(str).tolist()
        metas = [_csv_meta(row, columns) for _, row in df.iterrows()]
    cands = [Candidate(ids[i], i, metas[i]) for i in range(n)]
    return Source("arrays", path, cands, "csv" if columns is not None else "none", csv_columns=columns,
                  arrays_key=key)


def arrays_shape(path: Path) -> tuple[int, int, int, str]:
    """(N, leads, T, npz key) of a ``.npy``/``.npz`` without loading it."""
    try:
        if path.suffix.lower() == ".npy":
            arr = np.load(path, mmap_mode="r")
            shape, key = arr.shape, ""
        else:
            with zipfile.ZipFile(path) as zf:
                names = [n for n in zf.namelist() if n.endswith(".npy")]
                key = next((n for n in ("signals.npy", "x.npy", "X.npy") if n in names), names[0] if names else "")
                if not key:
                    raise DataError(f"{path}: no array inside")
                with zf.open(key) as fh:
                    _, shape, _, _ = read_header(fh)  # type: ignore[arg-type]
    except (ValueError, zipfile.BadZipFile, EOFError) as err:
        if isinstance(err, DataError):
            raise
        raise DataError(f"{path}: not a readable array file ({one_line(str(err))})") from None
    if len(shape) != 3 or shape[1] != 12:
        raise DataError(f"{path}: arrays must be (N, 12, T), got {shape}")
    return int(shape[0]), 12, int(shape[2]), key



def open_source(src: Path, fmt: str, *, fs: float, labels: Path | None,
                min_likelihood: float | None = None) -> Source:
    """List the candidates of a collection (sorted by relative path / row order)."""
    kind = detect_format(src, labels) if fmt == "auto" else fmt
    if kind == "ptbxl":
        return _ptbxl(src, fs, min_likelihood)
    if kind == "arrays":
        return _arrays(src, labels)
    if kind not in ("cinc", "wfdb"):
        raise UsageError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    cands, rejected = _dedupe(_headers(src), src)
    if labels is None:
        return Source(kind, src, cands, "cinc2020" if kind == "cinc" else "none", rejected_upfront=rejected)
    df, columns = read_labels_csv(labels)
    rows = {Path(r).name.removesuffix(".hea"): i for i, r in enumerate(df["record"].astype(str))}
    keep = []
    for c in cands:
        if c.record in rows:
            keep.append(Candidate(c.record, c.ref, _csv_meta(df.iloc[rows[c.record]], columns)))
        else:
            rejected.append((c.record, "no row in labels CSV"))
    found = {c.record for c in cands}
    rejected += [(r, "listed in labels CSV but no header found") for r in sorted(set(rows) - found)]
    return Source(kind, src, keep, "csv", csv_columns=columns, rejected_upfront=rejected)


