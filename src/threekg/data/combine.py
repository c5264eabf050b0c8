"""Concatenate prepared datasets into one (a pretraining corpus made of several sources).

The result is an ordinary prepared dataset: signals are copied record block by record block into a
memory-mapped ``signals.npy`` (never all in memory), records keep their order (first source first),
record and patient ids are prefixed with the source's name (``NAME/record``) so that two sources can
never share a patient by accident, and a ``corpus`` column names the source of every row. Labels are
kept when every source has the same label names, otherwise the result is unlabelled (``none``). The
folder is written beside ``out`` and renamed into place, manifest last.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from threekg.data.dataset import (
    MANIFEST,
    PreparedDataset,
    manifest_dict,
    normalise_records,
    open_dataset,
    staged_folder,
    write_json_atomic,
)
from threekg.errors import DataError, UsageError

_BLOCK = 512  # records copied per block


def combine_datasets(sources: Sequence[str | Path], out: str | Path, names: Sequence[str] | None = None,
                     overwrite: bool = False) -> PreparedDataset:
    """Write the concatenation of the prepared datasets ``sources`` to ``out`` and open it.

    Args:
        sources: two or more prepared datasets with the same sampling rate and record length.
        out: the new dataset folder. Raises FileExistsError when it exists, unless ``overwrite``.
        names: one short name per source (the id prefix and ``corpus`` value); default: folder names.

    Raises :class:`~threekg.errors.DataError` (a ValueError) naming the two sources when their fs or
    length differ.
    """
    out = Path(out)
    datasets = [open_dataset(s) for s in sources]
    if len(datasets) < 2:
        raise UsageError(f"combine needs at least two datasets, got {len(datasets)}")
    names = [str(n) for n in names] if names is not None else [Path(s).name for s in sources]
    if len(names) != len(datasets) or len(set(names)) != len(names):
        raise UsageError(f"combine needs one distinct name per source, got {list(names)}")
    first = datasets[0]
    for ds in datasets[1:]:
        if abs(ds.fs - first.fs) > 1e-9 or ds.n_samples != first.n_samples:
            raise DataError(f"cannot combine {first.path} ({first.fs:g} Hz, {first.n_samples} samples) with "
                            f"{ds.path} ({ds.fs:g} Hz, {ds.n_samples} samples): prepare both with the same "
                            "--fs and --seconds")
    same_labels = all(ds.label_names == first.label_names for ds in datasets)
    label_names = first.label_names if same_labels else []
    label_set = str(first.manifest.get("label_set", "")) if same_labels else "none"
    dtype = first.signals.dtype if all(ds.signals.dtype == first.signals.dtype for ds in datasets) else np.float32
    n = sum(len(ds) for ds in datasets)
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise FileExistsError(f"{out} exists; pass overwrite=True to replace it")
    with staged_folder(out) as tmp:
        signals = np.lib.format.open_memmap(tmp / "signals.npy", mode="w+", dtype=dtype,
                                            shape=(n, first.signals.shape[1], first.n_samples))
        labels = np.zeros((n, len(label_names)), dtype=np.uint8)
        tables, rejected, row = [], [], 0
        for name, ds in zip(names, datasets, strict=True):
            for a in range(0, len(ds), _BLOCK):
                b = min(a + _BLOCK, len(ds))
                signals[row + a: row + b] = ds.signals[a:b]
            if same_labels:
                labels[row: row + len(ds)] = ds.labels
            rec = ds.records.copy()
            rec["record"] = name + "/" + rec["record"].astype(str)
            rec["patient_id"] = name + "/" + rec["patient_id"].astype(str)
            rec["corpus"] = name
            tables.append(rec)
            rej = ds.rejected
            rej["record"] = name + "/" + rej["record"].astype(str)
            rejected.append(rej)
            row += len(ds)
        signals.flush()
        del signals
        np.save(tmp / "labels.npy", labels)
        normalise_records(pd.concat(tables, ignore_index=True)).to_csv(tmp / "records.csv", index=False,
                                                                        lineterminator="\n")
        rej_all = pd.concat(rejected, ignore_index=True)
        rej_all[["record", "reason"]].to_csv(tmp / "rejected.csv", index=False, lineterminator="\n")
        manifest = manifest_dict(
            n_records=n, fs=first.fs, n_samples=first.n_samples, label_set=label_set, label_names=label_names,
            n_rejected=len(rej_all), source="combined: " + ", ".join(f"{m}={ds.path}" for m, ds in
                                                                      zip(names, datasets, strict=True)),
            options={"combine": list(names)}, extra={"combined_from": {m: len(ds) for m, ds in
                                                                      zip(names, datasets, strict=True)}})
        write_json_atomic(manifest, tmp / MANIFEST)
    return open_dataset(out)
