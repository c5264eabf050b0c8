"""Train / validation / test splits of a prepared dataset.

* ``strat_fold`` in ``records.csv`` (PTB-XL): folds 1-8 train, 9 validation, 10 test - the
  split recommended by the PTB-XL authors (folds 9 and 10 hold human-validated labels and no
  patient crosses folds).
* otherwise a seeded patient-level split: patients are shuffled with ``seed`` and assigned in
  turn to the split whose record count is furthest below its target fraction (default
  70 / 10 / 20 %), so no patient appears in two splits.

The split is saved as ``split.csv`` (``record, patient_id, split``) so that it can be
inspected and reused; :func:`load_or_make_split` reuses a saved file only when its records
match the dataset's.

Cross-validation (:func:`make_folds`, ``threekg evaluate --split cv``): every record is in the
test split of exactly one of K partitions. Folds are ``strat_fold`` when the dataset has it (PTB-XL:
K = 10), otherwise K seeded patient-level folds of equal record counts. Partition k tests on fold k,
selects the probe strength on fold k + 1 (fold 1 after the last) and trains on the others, so with
PTB-XL's folds partition 10 is exactly the fixed split above.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from threekg.errors import DataError

SPLITS = ("train", "val", "test")


def make_split(records: pd.DataFrame, seed: int = 0, fractions: tuple[float, float, float] = (0.7, 0.1, 0.2),
               use_strat_fold: bool = True) -> tuple[np.ndarray, str]:
    """Split name per record ((N,) array of "train"/"val"/"test") and the kind ("strat_fold"|"patient").

    ``records``: the dataset's records table (``record``, ``patient_id``, optional ``strat_fold``).
    """
    if use_strat_fold and "strat_fold" in records.columns and records["strat_fold"].notna().all():
        fold = records["strat_fold"].astype(int).to_numpy()
        if not set(np.unique(fold)) <= set(range(1, 11)):
            raise ValueError(f"strat_fold must be in 1..10, got values {sorted(set(fold))}")
        split = np.where(fold <= 8, "train", np.where(fold == 9, "val", "test"))
        return split.astype(object), "strat_fold"
    if "patient_id" not in records.columns or records["patient_id"].isna().any():
        raise ValueError("records.csv: patient_id missing or empty; cannot make a patient-level split")
    f = np.asarray(fractions, dtype=np.float64)
    if f.shape != (3,) or (f < 0).any() or not np.isclose(f.sum(), 1.0):
        raise ValueError(f"split fractions must be three non-negative numbers summing to 1, got {fractions}")
    pid = records["patient_id"].astype(str).to_numpy()
    patients, inverse, sizes = np.unique(pid, return_inverse=True, return_counts=True)
    rng = np.random.default_rng(seed)
    order = rng.permutation(patients.size)
    targets = f * len(pid)
    filled = np.zeros(3)
    assign = np.empty(patients.size, dtype=np.int64)
    for p in order:
        k = int(np.argmax(targets - filled))
        assign[p] = k
        filled[k] += sizes[p]
    return np.array(SPLITS, dtype=object)[assign[inverse]], "patient"


def make_folds(records: pd.DataFrame, k: int = 10, seed: int = 0,
               use_strat_fold: bool = True) -> tuple[np.ndarray, str]:
    """Fold number (1..K) per record ((N,) int64) and the kind (``strat_fold`` or ``patient``).

    ``strat_fold`` is used whole when present (its K distinct values are renumbered 1..K in order);
    otherwise patients are shuffled with ``seed`` and each is put in the fold furthest below N / k
    records, so no patient is in two folds. Raises ValueError for fewer than 3 folds.
    """
    if use_strat_fold and "strat_fold" in records.columns and records["strat_fold"].notna().all():
        fold = records["strat_fold"].astype(int).to_numpy()
        values = np.unique(fold)
        if values.size < 3:
            raise DataError(f"cross-validation needs at least 3 strat_fold values, got {values.tolist()}")
        return (np.searchsorted(values, fold) + 1).astype(np.int64), "strat_fold"
    if k < 3:
        raise ValueError(f"cross-validation needs at least 3 folds, got {k}")
    if "patient_id" not in records.columns or records["patient_id"].isna().any():
        raise ValueError("records.csv: patient_id missing or empty; cannot make patient-level folds")
    pid = records["patient_id"].astype(str).to_numpy()
    patients, inverse, sizes = np.unique(pid, return_inverse=True, return_counts=True)
    if patients.size < k:
        raise DataError(f"{k} folds need at least {k} patients, the dataset has {patients.size}",
                        hint="lower --cv-folds")
    order = np.random.default_rng(seed).permutation(patients.size)
    filled = np.zeros(k)
    assign = np.empty(patients.size, dtype=np.int64)
    for p in order:
        f = int(np.argmin(filled))
        assign[p] = f
        filled[f] += sizes[p]
    return (assign[inverse] + 1).astype(np.int64), "patient"


def fold_partitions(folds: np.ndarray) -> list[dict[str, np.ndarray]]:
    """One ``{"train", "val", "test"}`` index partition per fold: test k, validation k + 1, train the rest."""
    values = np.unique(folds)
    parts = []
    for i, k in enumerate(values):
        v = values[(i + 1) % values.size]
        parts.append({"train": np.flatnonzero((folds != k) & (folds != v)), "val": np.flatnonzero(folds == v),
                      "test": np.flatnonzero(folds == k)})
    return parts


def load_or_make_folds(records: pd.DataFrame, path: Path, k: int = 10, seed: int = 0) -> tuple[np.ndarray, str]:
    """Read ``path`` (split.csv with a ``fold`` column) when it matches ``records``, else make and save folds."""
    path = Path(path)
    if path.exists():
        saved = pd.read_csv(path, dtype={"record": str, "patient_id": str, "kind": str})
        if "fold" in saved.columns and saved["record"].tolist() == records["record"].astype(str).tolist():
            return saved["fold"].to_numpy(dtype=np.int64), str(saved["kind"].iloc[0])
        raise ValueError(f"{path}: saved split is not a cross-validation split of these records; delete it "
                         "or choose another --out")
    folds, kind = make_folds(records, k=k, seed=seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"record": records["record"].astype(str), "patient_id": records["patient_id"].astype(str)
                  if "patient_id" in records.columns else "", "fold": folds, "kind": kind}).to_csv(path, index=False)
    return folds, kind


def load_or_make_split(records: pd.DataFrame, path: Path, seed: int = 0,
                       fractions: tuple[float, float, float] = (0.7, 0.1, 0.2)) -> tuple[np.ndarray, str]:
    """Read ``path`` (split.csv) when it matches ``records`` in order, else make and save the split."""
    path = Path(path)
    if path.exists():
        saved = pd.read_csv(path, dtype={"record": str, "patient_id": str, "split": str, "kind": str})
        if "split" not in saved.columns:
            raise ValueError(f"{path}: saved split is a cross-validation split; delete it or choose another --out")
        if saved["record"].tolist() == records["record"].astype(str).tolist():
            return saved["split"].to_numpy(dtype=object), str(saved["kind"].iloc[0])
        raise ValueError(f"{path}: saved split lists different records than the dataset; delete it or "
                         "choose another --out")
    split, kind = make_split(records, seed=seed, fractions=fractions)
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"record": records["record"].astype(str), "patient_id": records["patient_id"].astype(str),
                  "split": split, "kind": kind}).to_csv(path, index=False)
    return split, kind
