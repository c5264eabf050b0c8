"""Data loading for pretraining: read and crop the memory-mapped signals, nothing else.

The order of the data is a pure function of ``(seed, batch number)``, so a run resumed at
optimizer step ``s`` (batch ``s x accumulate``) sees exactly the batches an uninterrupted run
would have seen, whatever the number of DataLoader workers:

* :class:`StepBatchSampler` walks an endless stream of epochs; epoch ``e`` is the permutation
  ``default_rng([seed, e])`` of the records, cut into global batches of ``batch_size x world``
  (the incomplete tail batch of each epoch is dropped); process ``rank`` takes its slice. Each
  item it yields is ``(record, batch_number, position_in_global_batch)``.
* :class:`CropDataset` reads a whole batch at once (``__getitems__``; use ``collate_fn=
  passthrough``), drawing the crop starts (and, for PCLR, the partner recordings) from
  ``default_rng([seed, batch_number, position of the first item])``.

Augmentations are not applied here: they run on the device on whole batches (see
:mod:`threekg.train.module`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset, Sampler

from threekg.data.normalize import recording_scale
from threekg.errors import DataError

log = logging.getLogger(__name__)

Item = tuple[int, int, int]
"""``(record index, global batch number, position in the global batch)``."""


class StepBatchSampler(Sampler[list[Item]]):
    """Endless batches of ``batch_size`` items for process ``rank`` of ``world_size``.

    Batch ``k`` (counted from 0 over the whole run) is the same for every run with the same
    ``seed``, ``n_records``, ``batch_size`` and ``world_size``; iteration starts at
    ``start_batch`` (the resume point). Raises :class:`~threekg.errors.DataError` (a ValueError)
    when the global batch does not fit in one epoch.
    """

    def __init__(
        self, n_records: int, batch_size: int, seed: int, world_size: int = 1, rank: int = 0, start_batch: int = 0
    ) -> None:
        global_batch = batch_size * world_size
        if n_records < global_batch:
            raise DataError(
                f"the dataset has {n_records} records, fewer than one global batch "
                f"({batch_size} per process x {world_size} processes = {global_batch}); "
                "lower data.batch_size or use more data"
            )
        self.n_records, self.batch_size, self.seed = n_records, batch_size, seed
        self.world_size, self.rank, self.start_batch = world_size, rank, start_batch
        self.batches_per_epoch = n_records // global_batch

    def _permutation(self, epoch: int) -> np.ndarray:
        return np.random.default_rng([self.seed, epoch]).permutation(self.n_records)

    def batch(self, k: int) -> list[Item]:
        """Items of global batch ``k`` for this process."""
        epoch, j = divmod(k, self.batches_per_epoch)
        global_batch = self.batch_size * self.world_size
        start = j * global_batch + self.rank * self.batch_size
        records = self._permutation(epoch)[start : start + self.batch_size]
        offset = self.rank * self.batch_size
        return [(int(r), k, offset + i) for i, r in enumerate(records)]

    def __iter__(self) -> Iterator[list[Item]]:
        k = self.start_batch
        epoch, perm = -1, np.empty(0, dtype=np.int64)
        global_batch = self.batch_size * self.world_size
        while True:
            e, j = divmod(k, self.batches_per_epoch)
            if e != epoch:
                epoch, perm = e, self._permutation(e)
            start = j * global_batch + self.rank * self.batch_size
            offset = self.rank * self.batch_size
            yield [(int(r), k, offset + i) for i, r in enumerate(perm[start : start + self.batch_size])]
            k += 1


def passthrough(batch: Any) -> Any:
    """DataLoader ``collate_fn`` for :meth:`CropDataset.__getitems__`, which already collates."""
    return batch


def patient_codes(records: pd.DataFrame, source: str) -> np.ndarray:
    """Integer patient code per record (N,) int64, from the ``patient_id`` column."""
    if "patient_id" not in records.columns:
        raise ValueError(f"{source}: records.csv has no patient_id column")
    ids = records["patient_id"].astype(str)
    if (ids.str.len() == 0).any() or records["patient_id"].isna().any():
        bad = records.loc[records["patient_id"].isna() | (ids.str.len() == 0)].index[:5].tolist()
        raise ValueError(f"{source}: empty patient_id in records.csv rows {bad}")
    codes, _ = pd.factorize(ids, sort=False)
    return codes.astype(np.int64)


def partner_table(codes: np.ndarray) -> list[np.ndarray]:
    """For each record, the indices of the *other* records of its patient (possibly empty)."""
    order = np.argsort(codes, kind="stable")
    groups = np.split(order, np.flatnonzero(np.diff(codes[order])) + 1)
    by_patient = {int(codes[g[0]]): g for g in groups if len(g)}
    return [by_patient[int(c)][by_patient[int(c)] != i] for i, c in enumerate(codes)]


_broken: list[str] = []  # why the compiled window copy failed in this process (empty: it works)


def _window_kernel() -> Callable[..., None] | None:
    """The compiled window copy, or None when Numba cannot compile or cache here (the loop is used)."""
    if _broken:
        return None
    try:
        from threekg.train._windows import copy_windows
    except Exception as err:  # e.g. no writable cache folder for Numba: read with the Python loop
        log.warning("compiled window reader unavailable, reading windows in Python (%s: %s)", type(err).__name__, err)
        _broken.append(str(err))
        return None
    return cast(Callable[..., None], copy_windows)


class CropDataset(Dataset[dict[str, Any]]):
    """Random crops of a prepared dataset, read from its memory map.

    Args:
        data_dir: a prepared dataset (``threekg.data.open_dataset``).
        crop_samples: samples per crop (at the dataset's fs).
        seed: the run seed (crop positions and partners come from ``(seed, batch, position)``).
        normalize: ``"none"`` (mV as prepared) or ``"minmax"``: divide the crop by
            ``max - min`` of the whole recording over all 12 leads (one scalar per recording,
            so the relations between leads, hence the heart vector, are kept).
        paired: also return ``x2``, a crop of another recording of the same patient (PCLR), or
            an independent crop of the same recording when the patient has only one.
        windows: ``(mode, view_samples, min_offset)`` of a method whose two views come from two
            windows (``Method.loader_windows``): each item is then the two windows, each
            ``view_samples`` long, placed end to end (``crop_samples`` must be ``2 x view_samples``),
            their starts drawn by :func:`threekg.augment.window_starts`. Reading only the two
            windows, not the whole recording, keeps the loader as cheap as for one crop.

    ``dataset.__getitems__(items)`` returns ``{"x": (n, 12, crop_samples) float32,
    ["x2": (n, 12, crop_samples) float32,] "index": (n,) int64, "patient": (n,) int64,
    "batch": (n,) int64}``; ``dataset[item]`` the same for one item without the batch axis.
    """

    def __init__(
        self, data_dir: str | Path, crop_samples: int, seed: int, normalize: str = "none", paired: bool = False,
        windows: tuple[str, int, int] | None = None,
    ) -> None:
        from threekg.data import open_dataset

        self.data_dir = Path(data_dir)
        ds = open_dataset(self.data_dir)
        self.n_records, self.n_samples, self.fs = len(ds), int(ds.n_samples), float(ds.fs)
        # two windows are read end to end: each must fit, not their total
        need = windows[1] if windows is not None else crop_samples
        if not 0 < need <= self.n_samples:
            raise DataError(
                f"{self.data_dir}: crops of {need} samples do not fit in its recordings of "
                f"{self.n_samples} samples at {self.fs:g} Hz; lower data.crop_seconds"
            )
        if normalize not in ("none", "minmax"):
            raise ValueError(f"normalize must be 'none' or 'minmax', got {normalize!r}")
        self.crop_samples, self.seed, self.normalize, self.paired = crop_samples, seed, normalize, paired
        if windows is not None:
            from threekg.augment import window_span

            mode, view, min_offset = windows
            if crop_samples != 2 * view or paired:
                raise ValueError(f"windows {windows}: the loader's items are two windows of {view} samples "
                                 f"({2 * view} in all, got crop_samples={crop_samples}) and cannot be paired")
            window_span(mode, view, self.n_samples, min_offset)  # the recordings must leave room for both
        self.windows = windows
        self.patients = patient_codes(ds.records, str(self.data_dir))
        self.partners = partner_table(self.patients) if paired else []
        self._signals: np.ndarray | None = None  # opened lazily in each worker process

    def __len__(self) -> int:
        return self.n_records

    @property
    def signals(self) -> np.ndarray:
        """The (N, 12, T) memory map, opened on first use in this process."""
        if self._signals is None:
            from threekg.data import open_dataset

            self._signals = open_dataset(self.data_dir).signals
        return self._signals

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_signals"] = None  # never pickle the memory map into workers / spawned processes
        return state

    def _window_pairs(self, records: np.ndarray, starts: np.ndarray, view: int) -> torch.Tensor:
        """(n, 12, 2 x view) float32: the windows ``starts[:, 0]`` and ``starts[:, 1]`` end to end."""
        return self._read(records, starts, view)

    def _crops(self, records: np.ndarray, starts: np.ndarray) -> torch.Tensor:
        """(n, 12, crop_samples) float32 windows ``[start, start + crop)`` of ``records``."""
        return self._read(records, starts[:, None], self.crop_samples)

    def _read(self, records: np.ndarray, starts: np.ndarray, length: int) -> torch.Tensor:
        """(n, 12, k x length) float32: for each record its k windows ``starts[i]`` (n, k), end to end,
        scaled by :meth:`_scale`. float32 data is copied by one compiled call (``_windows``)."""
        signals = self.signals
        n, k = starts.shape
        if n and (starts.min() < 0 or starts.max() + length > signals.shape[-1]):
            raise ValueError(f"{self.data_dir}: windows of {length} samples at starts {starts.min()}..{starts.max()} "
                             f"do not fit in recordings of {signals.shape[-1]} samples")
        out = np.empty((n, signals.shape[1], k * length), dtype=np.float32)
        kernel = _window_kernel() if signals.dtype == np.float32 else None
        if kernel is not None:
            try:
                kernel(np.asarray(signals), records.astype(np.int64), starts.astype(np.int64), length, out)
            except Exception as err:  # Numba could not compile here (first call): read in Python from now on
                if not type(err).__module__.startswith("numba"):
                    raise
                log.warning("compiled window reader failed, reading windows in Python (%s: %s)", type(err).__name__, err)
                _broken.append(str(err))
                kernel = None
        if kernel is None:  # float16 storage (converted on the copy), or no Numba
            for i, (record, row) in enumerate(zip(records.tolist(), starts.tolist(), strict=True)):
                for j, start in enumerate(row):
                    out[i, :, j * length : (j + 1) * length] = signals[record, :, start : start + length]
        self._scale(out, records)
        return torch.from_numpy(out)

    def _scale(self, out: np.ndarray, records: np.ndarray) -> None:
        """Divide each row of ``out`` in place by its whole recording's max - min (``normalize=minmax``)."""
        if self.normalize == "minmax":
            for i, record in enumerate(records.tolist()):
                span = recording_scale(np.asarray(self.signals[record : record + 1]))[0]
                if not np.isfinite(span):
                    raise ValueError(f"{self.data_dir}: record {record} has non-finite samples")
                out[i] /= span

    def __getitems__(self, items: list[Item]) -> dict[str, Any]:
        """A whole collated batch at once: ``{"x": (n, 12, crop) float32, ...}`` (see the class docstring).

        The crop starts (and PCLR partners) of the items come from one generator seeded with
        ``[seed, batch, position of the first item]``, so a batch is a pure function of the run
        seed and the sampler's output.
        """
        records = np.fromiter((i[0] for i in items), dtype=np.int64, count=len(items))
        _, batch, position = items[0]
        rng = np.random.default_rng([self.seed, batch, position])
        high = self.n_samples - self.crop_samples + 1
        if self.windows is not None:
            from threekg.augment import window_starts

            mode, view, min_offset = self.windows
            starts = window_starts(rng, len(items), self.n_samples, view, mode, min_offset)
            out: dict[str, Any] = {"x": self._window_pairs(records, starts, view)}
        else:
            out = {"x": self._crops(records, rng.integers(0, high, size=len(items)))}
        if self.paired:
            partners = np.array(
                [int(p[rng.integers(0, len(p))]) if len(p) else int(r)
                 for r, p in ((r, self.partners[r]) for r in records.tolist())],
                dtype=np.int64,
            )
            out["x2"] = self._crops(partners, rng.integers(0, high, size=len(items)))
        out["index"] = torch.from_numpy(records)
        out["patient"] = torch.from_numpy(self.patients[records])
        out["batch"] = torch.tensor([i[1] for i in items], dtype=torch.int64)
        return out

    def __getitem__(self, item: Item) -> dict[str, Any]:
        """One item (``x`` (12, crop) float32, scalar tensors); the same as a batch of one."""
        return {k: v[0] for k, v in self.__getitems__([item]).items()}

    def describe_pairs(self) -> str:
        """How many patients have several recordings (for PCLR logs)."""
        n_patients = len(np.unique(self.patients))
        alone = sum(1 for p in self.partners if len(p) == 0)
        return (
            f"{self.n_records} recordings of {n_patients} patients; {alone} recordings are their "
            "patient's only one"
        )
