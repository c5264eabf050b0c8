"""The evaluation grid: encoders x label fractions x seeds -> metrics.json and CSV tables.

See docs/evaluate.md for the protocol. Bootstrap resamples of the test set are drawn ONCE and
shared by every run, so per-run CIs, seed-averaged CIs and paired differences all use the same
resamples.
"""

from __future__ import annotations

import copy
import itertools
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from threekg import __version__
from threekg.data import open_dataset
from threekg.errors import DataError, UsageError
from threekg.evaluate.bootstrap import draw_counts, weighted_auroc
from threekg.evaluate.challenge import challenge_metric, load_weights
from threekg.evaluate.checks import check_dataset, check_options, check_test_split
from threekg.evaluate.embeddings import (
    NonFiniteSignalError,
    cached_embeddings,
    dataset_fingerprint,
    file_sha256,
    module_fingerprint,
)
from threekg.evaluate.encoders import EncoderSpec, instantiate, parse_encoders
from threekg.evaluate.finetune import FinetuneOptions, predict_logits, train_end_to_end
from threekg.evaluate.fractions import load_or_make_subset
from threekg.evaluate.groups import group_means, load_groups
from threekg.evaluate.metrics import auprc, auroc, evaluable_classes, macro
from threekg.evaluate.outputs import summarise, write_outputs
from threekg.evaluate.probe import DEFAULT_L2_GRID, fit_probe
from threekg.evaluate.splits import load_or_make_split

log = logging.getLogger(__name__)


@dataclass
class EvalOptions:
    """Every knob of :func:`evaluate` with its default (docs/evaluate.md says why)."""

    fractions: tuple[float, ...] = (0.01, 0.1, 1.0)
    seeds: tuple[int, ...] = (0, 1, 2)
    n_boot: int = 1000
    bootstrap_seed: int = 0
    crop_seconds: float | None = 5.0
    finetune: bool = False
    device: str = "cpu"
    arch: dict[str, Any] | None = None
    cache_dir: Path | None = None
    split_seed: int = 0
    l2_grid: tuple[float, ...] = DEFAULT_L2_GRID
    batch_size: int = 64
    train: FinetuneOptions = field(default_factory=FinetuneOptions)
    threshold: float = 0.5
    progress: bool = True


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def evaluate(data: str | Path, encoders: list[str | EncoderSpec], out: str | Path,
             options: EvalOptions | None = None) -> dict[str, Any]:
    """Run the grid and write ``out/metrics.json``, ``runs.csv``, ``summary.csv``, ``per_class.csv``.

    ``encoders``: RUN dirs, ``.safetensors`` paths, ``name=PATH``, ``random``, ``supervised`` or
    :class:`EncoderSpec` (kind "module" passes an ``nn.Module`` directly). Returns the metrics dict.
    """
    opt = options or EvalOptions()
    out = Path(out)
    check_options(opt)  # mistakes knowable up front are refused before anything is written or computed
    ds = open_dataset(data)
    absent = check_dataset(ds, opt)
    specs = parse_encoders(encoders, opt.arch)
    out.mkdir(parents=True, exist_ok=True)
    names = list(ds.label_names)
    split, split_kind = load_or_make_split(ds.records, out / "split.csv", seed=opt.split_seed)
    idx = {k: np.flatnonzero(split == k) for k in ("train", "val", "test")}
    for k, v in idx.items():
        if v.size == 0:
            raise DataError(f"{data}: the {k} split is empty ({split_kind} split of {len(ds)} records)",
                            hint="evaluate on a dataset with more patients")
    labels = np.asarray(ds.labels)
    y_val, y_test = labels[idx["val"]], labels[idx["test"]]
    keep, dropped = evaluable_classes(y_test, names)
    check_test_split(data, names, keep, int(idx["test"].size))
    if absent:
        log.warning("%s: %d of %d classes have no positive record anywhere and are not scored: %s",
                    ds.path, len(absent), len(names), ", ".join(absent))
    counts = draw_counts(y_test, keep, opt.n_boot, opt.bootstrap_seed) if opt.n_boot > 0 and keep.any() else None
    groups = load_groups(names)
    weights = None
    if ds.manifest.get("label_set") == "cinc2020":
        try:
            weights = load_weights(names)
        except ValueError as err:
            log.warning("challenge metric skipped: %s", err)
    crop = round(opt.crop_seconds * ds.fs) if opt.crop_seconds else None
    dfp = dataset_fingerprint(ds.path, ds.signals)
    cache_dir = Path(opt.cache_dir) if opt.cache_dir else out / "embeddings"
    train_records = ds.records["record"].iloc[idx["train"]]
    subsets = {(f, s): idx["train"][load_or_make_subset(train_records, labels[idx["train"]], f, s, dfp, out)]
               for f in opt.fractions for s in opt.seeds}
    runs: list[dict[str, Any]] = []
    boot: dict[tuple[str, float, int], np.ndarray] = {}
    grid = list(itertools.product(opt.fractions, opt.seeds))
    for spec in specs:
        end_to_end = spec.kind == "supervised" or (opt.finetune and spec.kind in ("checkpoint", "module"))
        z = None
        if not end_to_end:
            module = instantiate(spec, seed=0).to(opt.device)
            fp = file_sha256(spec.file()) if spec.kind == "checkpoint" else module_fingerprint(module)
            try:
                z, path, hit = cached_embeddings(module, fp, ds.signals, dfp, cache_dir, crop, opt.batch_size,
                                                 opt.device, opt.progress, desc=f"embed {spec.name}")
            except NonFiniteSignalError as err:
                names = [str(ds.records["record"].iloc[r]) for r in err.rows[:10]]
                raise DataError(f"{ds.path}: non-finite (NaN/inf) values in signals.npy, records {names}: "
                                "the dataset is damaged; prepare it again") from None
            log.info("%s: embeddings %s (%s)", spec.name, path, "cache hit" if hit else "computed")
        probe_cache: dict[bytes, tuple[np.ndarray, dict[str, Any]]] = {}
        for f, s in tqdm(grid, desc=f"evaluate {spec.name}", disable=not opt.progress):
            sub = subsets[(f, s)]
            if z is not None:
                key = sub.tobytes()
                if key not in probe_cache:  # identical subsets (fraction 1) give identical probes
                    probe = fit_probe(z[sub], labels[sub], z[idx["val"]], y_val, opt.l2_grid)
                    if probe.unconverged:
                        log.warning("%s, fraction %g, seed %d: the probe of %d classes stopped at the iteration "
                                    "limit before converging", spec.name, f, s, probe.unconverged)
                    probe_cache[key] = (probe.predict_proba(z[idx["test"]]),
                                        {"mode": "linear", "l2": probe.l2, "val_macro_auroc": probe.val_macro_auroc,
                                         "probe_iterations": probe.n_iter, "probe_unconverged": probe.unconverged})
                prob, info = probe_cache[key]
            else:
                module = copy.deepcopy(instantiate(spec, seed=s))
                enc, head, tinfo = train_end_to_end(module, ds.signals[sub], labels[sub], ds.signals[idx["val"]],
                                                    y_val, crop, seed=s, options=opt.train, device=opt.device,
                                                    progress=opt.progress)
                prob = _sigmoid(predict_logits(enc, head, ds.signals[idx["test"]], crop, opt.device, False))
                info = {"mode": "supervised" if spec.kind == "supervised" else "finetune", **tinfo}
            run = score_run(y_test, prob, names, keep, dropped, groups, weights, opt.threshold)
            per_boot = weighted_auroc(y_test[:, keep], prob[:, keep], counts).mean(axis=1) \
                if counts is not None else np.full(1, np.nan)
            boot[(spec.name, f, s)] = per_boot
            lo, hi = np.quantile(per_boot, [0.025, 0.975])
            runs.append({"encoder": spec.name, "fraction": f, "seed": s, "n_train": int(sub.size),
                         **run, "ci_low": float(lo), "ci_high": float(hi), **info})
    summary, paired = summarise(runs, boot, [s.name for s in specs], opt.fractions, opt.seeds)
    metrics = {
        "threekg_version": __version__,
        "data": {"path": str(Path(data).resolve()), "n_records": len(ds), "fs": ds.fs,
                 "label_set": ds.manifest.get("label_set", ""), "split": split_kind,
                 "n_train": int(idx["train"].size), "n_val": int(idx["val"].size), "n_test": int(idx["test"].size),
                 "n_samples": ds.n_samples},
        "label_names": names,
        "groups": groups,
        "encoders": {s.name: {"source": s.source or s.kind, "kind": s.kind, "config": s.config} for s in specs},
        "options": {"fractions": list(opt.fractions), "seeds": list(opt.seeds), "n_boot": opt.n_boot,
                    "bootstrap_seed": opt.bootstrap_seed, "crop_seconds": opt.crop_seconds,
                    "crop_samples": crop, "finetune": opt.finetune, "l2_grid": list(opt.l2_grid),
                    "threshold": opt.threshold, "split_seed": opt.split_seed},
        "dropped_classes": dropped,
        "runs": runs,
        "summary": summary,
        "paired": paired,
    }
    write_outputs(out, metrics)
    return metrics


def score_run(y: np.ndarray, prob: np.ndarray, names: list[str], keep: np.ndarray, dropped: dict[str, str],
              groups: dict[str, list[str]], weights: np.ndarray | None, threshold: float) -> dict[str, Any]:
    """Point metrics of one run on the test set: ``y`` (n, C) labels, ``prob`` (n, C) probabilities."""
    a, p = np.asarray(auroc(y, prob)), np.asarray(auprc(y, prob))
    per_class = {n: float(v) for n, v, k in zip(names, a, keep, strict=True) if k}
    cm = None
    if weights is not None:
        cm = challenge_metric(y, prob >= threshold, names, weights)
    return {"macro_auroc": macro(a, keep), "per_class_auroc": per_class, "macro_auprc": macro(p, keep),
            "per_class_auprc": {n: float(v) for n, v, k in zip(names, p, keep, strict=True) if k},
            "dropped_classes": dict(dropped), "group_auroc": group_means(per_class, groups),
            "challenge_metric": cm}


def set_threads(n: int) -> None:
    """Limit torch intra-op threads (the CLI's ``--threads``, 1 to 1024)."""
    if not 1 <= n <= 1024:
        raise UsageError(f"--threads {n}: must be between 1 and 1024 (0: torch's choice)")
    torch.set_num_threads(n)
