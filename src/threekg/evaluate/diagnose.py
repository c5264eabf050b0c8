"""Representation diagnostics of one frozen encoder, for ``threekg evaluate`` (docs/evaluate.md, "Diagnostics").

:class:`Diagnoser` is built once per evaluation and called once per frozen encoder. It

* scores a cosine kNN on the cached record embeddings for every label subset of the probe;
* computes the effective rank and the 99%-variance dimension count of the record embeddings;
* embeds crops of (at most ``max_records``) records and their transformed versions: two
  independent ``3kg-paper`` views (alignment, uniformity), ``3kg-paper-spatial`` (rotation + scaling),
  ``3kg-temporal`` (time mask) and the same crop moved by a time shift (invariances);
* reads out where the R peaks (NeuroKit2, lead II of the whole record) fall in each crop from the
  crop's embedding (the timing-shortcut test).

The view-based diagnostics use no labels, so by default their records are drawn from every split
(``records="all"``): the 50-100 test records of a small data set leave a 128- to 512-d ridge read-out
without power (measured on PTB-XL-500: R^2 about 0 for every encoder from 66 test records, a clear
difference from 500). ``records="test"`` restricts them to the test split.

Every random number (records, crop starts, shifts, augmentations) comes from generators seeded by
``DiagnosticOptions.seed``; crops are transformed in fixed chunks of :data:`CHUNK`, so the result
does not depend on the batch size. The crop embeddings are cached as ``CACHE/diag-<key>.npz`` and
the R peaks as ``CACHE/peaks-<key>.npz`` (never pickled), like the record embeddings.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from threekg.augment import PIPELINES, build_pipeline
from threekg.data.normalize import normalize_recordings
from threekg.evaluate import diagnostics as dx
from threekg.evaluate.embeddings import embed
from threekg.evaluate.metrics import auroc, macro
from threekg.leads import LEADS
from threekg.progress import track

log = logging.getLogger(__name__)

CHUNK = 256
"""Crops transformed per step; part of the random stream, so fixed (not the batch size)."""

VIEWS = {"view_a": "3kg-paper", "view_b": "3kg-paper", "rotation_scaling": "3kg-paper-spatial",
         "time_mask": "3kg-temporal"}
"""Transformed versions of every diagnostic crop: name -> ``threekg.augment.PIPELINES`` preset.

Fixed at the paper's strengths (rotation +-45 deg, scaling [1, 1.5]) whatever the ``3kg`` method's
defaults, so that diagnostics stay comparable between encoders and threekg versions."""

DIAGNOSTICS_REVISION = 2
"""Raised when the diagnostics compute something else from the same options (2: VIEWS fixed at the
paper's strengths when 3kg's defaults became milder); part of a study's evaluate fingerprint."""


@dataclass
class DiagnosticOptions:
    """Knobs of the diagnostics (docs/evaluate.md says why these defaults)."""

    enabled: bool = True
    records: str = "all"          # "all" or "test": where the records of the view-based diagnostics come from
    max_records: int = 512        # records whose crops are embedded for the view-based diagnostics
    crops_per_record: int = 4     # random crops per record (the shortcut read-out is grouped by record)
    crop_seconds: float | None = None  # crop length of the view-based diagnostics; None: the evaluation's
    max_shift_seconds: float = 0.5
    seed: int = 0
    knn_k: int = dx.KNN_K
    knn_temperature: float = dx.KNN_TEMPERATURE
    peak_lead: str = "II"
    min_shortcut_records: int = 10


@dataclass(frozen=True)
class CropPlan:
    """Which crops are embedded: ``rows`` (M,) dataset rows, ``starts`` (M,) and ``shifts`` (M,) in samples.

    M = records x crops per record, record-major. The shifted crop starts at ``starts + shifts``;
    ``max_shift`` is 0 when the records leave no room for a shift.
    """

    rows: np.ndarray
    starts: np.ndarray
    shifts: np.ndarray
    length: int
    max_shift: int

    def digest(self) -> str:
        h = hashlib.sha256(f"{self.length},{self.max_shift}".encode())
        for a in (self.rows, self.starts, self.shifts):
            h.update(np.ascontiguousarray(a, dtype=np.int64).tobytes())
        return h.hexdigest()


def plan_crops(candidates: np.ndarray, n_samples: int, crop: int | None, options: DiagnosticOptions,
               fs: float) -> CropPlan:
    """Draw the diagnostic crops of (a seeded subsample of at most ``max_records``) ``candidates`` rows.

    Crops have the evaluation's crop length (the whole record, once, when ``crop`` is None or longer);
    starts are uniform in [S, T - L - S] with S the largest shift that fits (<= ``max_shift_seconds``);
    shifts are uniform in [-S, S] without 0.
    """
    rng = np.random.default_rng(options.seed)
    rows = np.sort(rng.choice(candidates, size=min(options.max_records, len(candidates)), replace=False))
    length = n_samples if crop is None else min(crop, n_samples)
    room = n_samples - length
    shift = min(round(options.max_shift_seconds * fs), room // 2)
    k = options.crops_per_record if room > 0 else 1  # every crop of a record is the whole record
    rows = np.repeat(rows, k)
    starts = rng.integers(shift, room - shift + 1, size=rows.size)
    magnitude = rng.integers(1, shift + 1, size=rows.size) if shift > 0 else np.zeros(rows.size, dtype=np.int64)
    shifts = magnitude * rng.choice(np.array([-1, 1]), size=rows.size)
    return CropPlan(rows, starts, shifts, length, shift)


def _gather(records: np.ndarray, starts: np.ndarray, length: int) -> torch.Tensor:
    """(M, 12, length) float32 crops records[m, :, starts[m] : starts[m] + length] of ``records`` (M, 12, T)."""
    out = np.empty((records.shape[0], records.shape[1], length), dtype=np.float32)
    for m, s in enumerate(starts):
        out[m] = records[m, :, s : s + length]
    return torch.from_numpy(out)


def _save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, allow_pickle=False, **cast(dict[str, Any], arrays))
    os.replace(tmp, path)


def _key(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:24]


@torch.no_grad()
def crop_embeddings(encoder: nn.Module, signals: np.ndarray, plan: CropPlan, fs: float, seed: int,
                    batch_size: int = 64, device: str | torch.device = "cpu", progress: bool = False,
                    desc: str = "diagnose", normalize: str = "none") -> dict[str, np.ndarray]:
    """Embeddings (M, D) float32 of the plan's crops: ``clean``, ``time_shift`` and every :data:`VIEWS` entry.

    Each view has its own ``torch.Generator`` seeded from ``seed`` and its position in :data:`VIEWS`;
    crops are transformed :data:`CHUNK` at a time. ``normalize`` scales each whole recording first
    (:mod:`threekg.data.normalize`, as the encoder was pretrained), as :func:`embed` does.
    The encoder runs in eval mode (see :func:`embed`).
    """
    pipes = {name: build_pipeline(preset, fs=fs) for name, preset in VIEWS.items()}
    gens = {name: torch.Generator().manual_seed(seed * 1000 + i) for i, name in enumerate(VIEWS)}
    parts: dict[str, list[np.ndarray]] = {name: [] for name in ("clean", "time_shift", *VIEWS)}
    for i in track(range(0, plan.rows.size, CHUNK), desc, unit="chunk", disable=not progress, leave=False):
        sl = slice(i, i + CHUNK)
        records = normalize_recordings(signals[plan.rows[sl]], normalize)
        clean = _gather(records, plan.starts[sl], plan.length)
        batches = {"clean": clean, "time_shift": _gather(records, plan.starts[sl] + plan.shifts[sl], plan.length)}
        batches.update({name: pipes[name](clean, generator=gens[name]) for name in VIEWS})
        for name, x in batches.items():
            parts[name].append(embed(encoder, x.numpy(), None, batch_size, device, progress=False))
    return {name: np.concatenate(p) for name, p in parts.items()}


def detect_peaks(signals: np.ndarray, rows: np.ndarray, fs: float, lead: str) -> tuple[list[np.ndarray], dict[int, str]]:
    """R peaks (sample indices of the whole record) of ``lead`` for every row; failures as {row: reason}."""
    li = LEADS.index(lead)
    peaks: list[np.ndarray] = []
    failed: dict[int, str] = {}
    for r in rows:
        try:
            peaks.append(dx.find_r_peaks(np.asarray(signals[r, li]), fs))
        except ValueError as err:
            peaks.append(np.zeros(0, dtype=np.int64))
            failed[int(r)] = str(err)
    return peaks, failed


class Diagnoser:
    """Diagnostics of frozen encoders on one dataset and split (see the module docstring).

    Args:
        signals: (N, 12, T) mV, the prepared dataset's signals.
        labels: (N, C) in {0, 1}.
        fs: Hz.
        parts: the evaluation's partitions, each {"train", "val", "test": dataset rows} (one for a fixed
            split, K for cross-validation: kNN scores are then pooled over the folds, like the probe's).
        subsets: {(partition, fraction, seed): training rows} - the probe's label subsets.
        keep: (C,) bool - the probe's evaluable classes (on the pooled test rows).
        crop: crop length in samples of the evaluation (None: whole records).
        dataset_fp: the dataset fingerprint (cache keys).
        cache_dir: where crop embeddings and R peaks are cached.
        record_names: (N,) names for log messages.
    """

    def __init__(self, signals: np.ndarray, labels: np.ndarray, fs: float, parts: list[dict[str, np.ndarray]],
                 subsets: dict[tuple[int, float, int], np.ndarray], keep: np.ndarray, crop: int | None,
                 dataset_fp: str, cache_dir: Path, options: DiagnosticOptions, record_names: list[str],
                 batch_size: int = 64, device: str = "cpu", progress: bool = True) -> None:
        self.signals, self.labels, self.fs = signals, np.asarray(labels), float(fs)
        self.parts, self.subsets, self.keep = parts, subsets, keep
        test = np.concatenate([p["test"] for p in parts])
        self.dataset_fp, self.cache_dir, self.opt = dataset_fp, Path(cache_dir), options
        self.record_names, self.batch_size, self.device, self.progress = record_names, batch_size, device, progress
        if options.records not in ("all", "test"):
            raise ValueError(f"diagnostics: records must be 'all' or 'test', got {options.records!r}")
        if options.crop_seconds is not None:
            crop = round(options.crop_seconds * self.fs) if options.crop_seconds > 0 else None
        candidates = test if options.records == "test" else np.arange(signals.shape[0])
        self.plan = plan_crops(candidates, signals.shape[-1], crop, options, self.fs)
        self._targets: tuple[np.ndarray, dict[str, np.ndarray], str] | None = None

    def __call__(self, name: str, encoder: nn.Module, encoder_fp: str, z: np.ndarray,
                 normalize: str = "none") -> dict[str, Any]:
        """The diagnostics dict of one encoder (``z`` (N, D): its cached record embeddings; ``normalize``:
        the input scaling it was pretrained with)."""
        t0 = time.perf_counter()
        out: dict[str, Any] = {"embed_dim": int(z.shape[1])}
        out.update(self._knn(z))
        out.update({"effective_rank": dx.effective_rank(z), "dims_99": dx.dims_for_variance(z, 0.99),
                    "rank_records": int(z.shape[0]), "max_rank": int(min(z.shape[0] - 1, z.shape[1]))})
        views, hit = self._crop_embeddings(name, encoder, encoder_fp, normalize)
        groups = self.plan.rows
        out["alignment"] = dx.alignment(views["view_a"], views["view_b"])
        out["uniformity"] = float(np.mean([dx.uniformity(views[v], groups=groups) for v in ("view_a", "view_b")]))
        out["invariance"] = {v: dx.invariance(views["clean"], views[v], groups)
                             for v in ("rotation_scaling", "time_mask")}
        out["invariance"]["time_shift"] = (dx.invariance(views["clean"], views["time_shift"], groups)
                                           if self.plan.max_shift > 0 else None)
        out.update(self._shortcut(views["clean"]))
        out["views"] = {"n_records": int(np.unique(self.plan.rows).size), "n_crops": int(self.plan.rows.size),
                        "crop_samples": self.plan.length, "max_shift_samples": self.plan.max_shift,
                        "pipelines": {v: PIPELINES[p] for v, p in VIEWS.items()}, "cache": "hit" if hit else "computed",
                        **{k: v for k, v in asdict(self.opt).items() if k != "enabled"}}
        log.info("%s: diagnostics in %.1f s (crop embeddings: %s)", name, time.perf_counter() - t0,
                 "cache hit" if hit else "computed")
        return out

    def _knn(self, z: np.ndarray) -> dict[str, Any]:
        """kNN macro AUROC per label subset: per partition, embeddings centred by the mean of its whole
        training split (no labels used), test scores pooled over the partitions in their order."""
        test = np.concatenate([p["test"] for p in self.parts])
        rows = []
        for fraction in sorted({f for _, f, _ in self.subsets}):
            per_seed = {}
            for s in sorted({s for _, f, s in self.subsets if f == fraction}):
                scores = []
                for i, p in enumerate(self.parts):
                    sub, zc = self.subsets[(i, fraction, s)], z - z[p["train"]].mean(axis=0)
                    scores.append(dx.knn_scores(zc[sub], self.labels[sub], zc[p["test"]], self.opt.knn_k,
                                                self.opt.knn_temperature))
                per_seed[s] = macro(np.asarray(auroc(self.labels[test], np.concatenate(scores))), self.keep)
            rows.append({"fraction": fraction, "macro_auroc_mean": float(np.mean(list(per_seed.values()))),
                         "per_seed": {str(s): v for s, v in per_seed.items()}})
        return {"knn": rows}

    def _crop_embeddings(self, name: str, encoder: nn.Module, encoder_fp: str,
                         normalize: str) -> tuple[dict[str, np.ndarray], bool]:
        key = _key({"encoder": encoder_fp, "dataset": self.dataset_fp, "plan": self.plan.digest(),
                    "seed": self.opt.seed, "views": {v: PIPELINES[p] for v, p in VIEWS.items()}, "chunk": CHUNK,
                    "normalize": normalize})
        path = self.cache_dir / f"diag-{key}.npz"
        if path.exists():
            with np.load(path, allow_pickle=False) as f:
                return {k: f[k] for k in f.files}, True
        views = crop_embeddings(encoder, self.signals, self.plan, self.fs, self.opt.seed, self.batch_size,
                                self.device, self.progress, desc=f"diagnose {name}", normalize=normalize)
        _save_npz(path, views)
        return views, False

    def _peaks(self) -> list[np.ndarray]:
        import neurokit2

        rows = np.unique(self.plan.rows)
        key = _key({"dataset": self.dataset_fp, "rows": rows.tolist(), "lead": self.opt.peak_lead, "fs": self.fs,
                    "neurokit2": neurokit2.__version__})
        path = self.cache_dir / f"peaks-{key}.npz"
        if path.exists():
            with np.load(path, allow_pickle=False) as f:
                flat, offsets = f["flat"], f["offsets"]
            return [flat[offsets[i] : offsets[i + 1]] for i in range(rows.size)]
        peaks, failed = detect_peaks(self.signals, rows, self.fs, self.opt.peak_lead)
        if failed:
            first = ", ".join(f"{self.record_names[r]} ({why})" for r, why in list(failed.items())[:3])
            log.warning("diagnostics: no R peaks in lead %s of %d of %d records, left out of the shortcut "
                        "test: %s", self.opt.peak_lead, len(failed), rows.size, first)
        offsets = np.concatenate([[0], np.cumsum([p.size for p in peaks])]).astype(np.int64)
        _save_npz(path, {"flat": np.concatenate(peaks).astype(np.int64), "offsets": offsets})
        return peaks

    def shortcut_targets(self) -> tuple[np.ndarray, dict[str, np.ndarray], str]:
        """(valid (M,) bool, {"phase": (n_valid, 4), "peak_train": (n_valid, B)}, reason) for the crops.

        A crop is usable when its record has an R peak at or before its first sample and one after
        its last (so both edge phases are defined, and a peak NeuroKit2 missed at a record's edge
        cannot be inside it). ``reason`` is empty, or says why the test is skipped.
        """
        if self._targets is None:
            self._targets = self._make_targets()
        return self._targets

    def _make_targets(self) -> tuple[np.ndarray, dict[str, np.ndarray], str]:
        plan, n = self.plan, self.plan.rows.size
        if plan.length >= self.signals.shape[-1]:
            return np.zeros(n, bool), {}, ("the crops are whole records: no R peak precedes a crop's first sample, "
                                           "so its phase is undefined (use a crop shorter than the records)")
        try:
            peaks = self._peaks()
        except ImportError:
            return np.zeros(n, bool), {}, "NeuroKit2 is not installed (pip install 'threekg[diagnostics]')"
        by_row = dict(zip(np.unique(plan.rows).tolist(), peaks, strict=True))
        valid = np.zeros(n, dtype=bool)
        phase, train = [], []
        for m, (r, s) in enumerate(zip(plan.rows.tolist(), plan.starts.tolist(), strict=True)):
            edges = dx.edge_phases(by_row[r], s, plan.length)
            if edges is not None:
                valid[m] = True
                phase.append(edges)
                train.append(dx.r_peak_train(by_row[r], s, plan.length, self.fs))
        n_records = np.unique(plan.rows[valid]).size
        if n_records < self.opt.min_shortcut_records:
            return valid, {}, (f"only {n_records} records have R peaks around a crop "
                               f"(need {self.opt.min_shortcut_records})")
        return valid, {"phase": np.stack(phase), "peak_train": np.stack(train)}, ""

    def _shortcut(self, clean: np.ndarray) -> dict[str, Any]:
        valid, targets, reason = self.shortcut_targets()
        info: dict[str, Any] = {"n_crops": int(valid.sum()), "n_records": int(np.unique(self.plan.rows[valid]).size),
                                "lead": self.opt.peak_lead}
        if reason:
            log.info("diagnostics: timing-shortcut test skipped: %s", reason)
            return {"shortcut_r2": None, "peak_train_r2": None, "shortcut": {**info, "skipped": reason}}
        groups = self.plan.rows[valid]
        return {"shortcut_r2": dx.shortcut_r2(clean[valid], targets["phase"], groups, seed=self.opt.seed),
                "peak_train_r2": dx.shortcut_r2(clean[valid], targets["peak_train"], groups, seed=self.opt.seed),
                "shortcut": {**info, "n_bins": int(targets["peak_train"].shape[1])}}
