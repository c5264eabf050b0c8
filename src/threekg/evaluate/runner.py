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

from threekg import __version__
from threekg.data import open_dataset
from threekg.data.normalize import normalize_recordings
from threekg.errors import DataError, UsageError
from threekg.evaluate.bootstrap import draw_counts, weighted_auroc
from threekg.evaluate.challenge import challenge_metric, load_weights
from threekg.evaluate.checks import check_dataset, check_options, check_test_split
from threekg.evaluate.diagnose import Diagnoser, DiagnosticOptions
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
from threekg.evaluate.outputs import (
    METRICS_SCHEMA_VERSION,
    average_diagnostics,
    replicate_units,
    summarise,
    write_outputs,
)
from threekg.evaluate.probe import DEFAULT_L2_GRID, fit_probe
from threekg.evaluate.splits import fold_partitions, load_or_make_folds, load_or_make_split
from threekg.progress import track

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
    split: str = "fixed"
    cv_folds: int = 10
    diagnostics: DiagnosticOptions = field(default_factory=DiagnosticOptions)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def evaluate(data: str | Path, encoders: list[str | EncoderSpec], out: str | Path,
             options: EvalOptions | None = None) -> dict[str, Any]:
    """Run the grid and write ``out/metrics.json``, ``runs.csv``, ``summary.csv``, ``per_class.csv``.

    ``encoders``: RUN dirs, ``.safetensors`` paths, ``name=PATH``, ``random``, ``random@K``,
    ``supervised`` or :class:`EncoderSpec` (kind "module" passes an ``nn.Module`` directly).
    With ``options.split == "cv"`` every record is a test record once (K-fold cross-validation,
    :func:`threekg.evaluate.splits.make_folds`): probes are fitted per fold and the metrics are
    computed on the pooled out-of-fold predictions. Returns the metrics dict.
    """
    opt = options or EvalOptions()
    if opt.split not in SPLIT_MODES:
        raise UsageError(f"split must be one of {SPLIT_MODES}, got {opt.split!r}")
    out = Path(out)
    check_options(opt)  # mistakes knowable up front are refused before anything is written or computed
    ds = open_dataset(data)
    absent = check_dataset(ds, opt)
    specs = parse_encoders(encoders, opt.arch)
    out.mkdir(parents=True, exist_ok=True)
    names = list(ds.label_names)
    dfp = dataset_fingerprint(ds.path, ds.signals)
    labels = np.asarray(ds.labels)
    evaluated = evaluated_records(labels, ds.manifest)
    if not evaluated.all():
        log.info("%d records with no label of %s left out of evaluation (the PTB-XL benchmark drops them)",
                 int((~evaluated).sum()), ds.manifest.get("label_set"))
    parts, split_kind = _partitions(ds.records, out, opt, evaluated)
    test_all = np.concatenate([p["test"] for p in parts])
    y_test = labels[test_all]
    keep, dropped = evaluable_classes(y_test, names)
    check_test_split(data, names, keep, int(test_all.size))
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
    cache_dir = Path(opt.cache_dir) if opt.cache_dir else out / "embeddings"
    subsets: dict[tuple[int, float, int], np.ndarray] = {}
    for i, p in enumerate(parts):
        where, dkey = (out, dfp) if len(parts) == 1 else (out / "cv" / f"fold{i + 1}", f"{dfp}|fold{i + 1}")
        train_records = ds.records["record"].iloc[p["train"]]
        for f in opt.fractions:
            for s in opt.seeds:
                subsets[(i, f, s)] = p["train"][load_or_make_subset(train_records, labels[p["train"]], f, s, dkey,
                                                                    where)]
    runs: list[dict[str, Any]] = []
    boot: dict[tuple[str, float, int], np.ndarray] = {}
    grid = list(itertools.product(opt.fractions, opt.seeds))
    diagnose = Diagnoser(ds.signals, labels, ds.fs, parts, subsets, keep, crop, dfp, cache_dir, opt.diagnostics,
                         ds.records["record"].astype(str).tolist(), opt.batch_size, opt.device,
                         opt.progress) if opt.diagnostics.enabled else None
    diagnostics: dict[str, dict[str, Any]] = {}
    for spec in specs:
        end_to_end = spec.kind == "supervised" or (opt.finetune and spec.kind in ("checkpoint", "module"))
        z = None
        if not end_to_end:
            module = instantiate(spec).to(opt.device)
            fp = file_sha256(spec.file()) if spec.kind == "checkpoint" else module_fingerprint(module)
            try:
                z, path, hit = cached_embeddings(module, fp, ds.signals, dfp, cache_dir, crop, opt.batch_size,
                                                 opt.device, opt.progress, desc=f"embed {spec.name}",
                                                 normalize=spec.normalize)
            except NonFiniteSignalError as err:
                bad = [str(ds.records["record"].iloc[r]) for r in err.rows[:10]]
                raise DataError(f"{ds.path}: non-finite (NaN/inf) values in signals.npy, records {bad}: "
                                "the dataset is damaged; prepare it again") from None
            log.info("%s: embeddings %s (%s)", spec.name, path, "cache hit" if hit else "computed")
            if diagnose is not None:
                diagnostics[spec.name] = diagnose(spec.name, module, fp, z, spec.normalize)
        probe_cache: dict[tuple[int, bytes], tuple[np.ndarray, dict[str, Any]]] = {}
        for f, s in track(grid, f"evaluate {spec.name}", unit="probe", disable=not opt.progress):
            prob = np.empty(y_test.shape, dtype=np.float64)
            infos: list[dict[str, Any]] = []
            row = 0
            for i, p in enumerate(parts):
                sub = subsets[(i, f, s)]
                if z is not None:
                    key = (i, sub.tobytes())
                    if key not in probe_cache:  # identical subsets (fraction 1) give identical probes
                        probe = fit_probe(z[sub], labels[sub], z[p["val"]], labels[p["val"]], opt.l2_grid)
                        if probe.unconverged:
                            log.warning("%s, fraction %g, seed %d%s: the probe of %d classes stopped at the "
                                        "iteration limit before converging", spec.name, f, s,
                                        f", fold {i + 1}" if len(parts) > 1 else "", probe.unconverged)
                        probe_cache[key] = (probe.predict_proba(z[p["test"]]),
                                            {"mode": "linear", "l2": probe.l2,
                                             "val_macro_auroc": probe.val_macro_auroc,
                                             "probe_iterations": probe.n_iter,
                                             "probe_unconverged": probe.unconverged})
                    part_prob, info = probe_cache[key]
                else:
                    module = copy.deepcopy(instantiate(spec, seed=s))
                    def scaled(rows: np.ndarray, how: str = spec.normalize) -> np.ndarray:
                        return normalize_recordings(ds.signals[rows], how)

                    enc, head, tinfo = train_end_to_end(module, scaled(sub), labels[sub], scaled(p["val"]),
                                                        labels[p["val"]], crop, seed=s, options=opt.train,
                                                        device=opt.device, progress=opt.progress)
                    part_prob = _sigmoid(predict_logits(enc, head, scaled(p["test"]), crop, opt.device, False))
                    info = {"mode": "supervised" if spec.kind == "supervised" else "finetune", **tinfo}
                prob[row:row + p["test"].size] = part_prob
                row += p["test"].size
                infos.append(info)
            n_train = float(np.mean([subsets[(i, f, s)].size for i in range(len(parts))]))
            run = score_run(y_test, prob, names, keep, dropped, groups, weights, opt.threshold)
            per_boot = weighted_auroc(y_test[:, keep], prob[:, keep], counts).mean(axis=1) \
                if counts is not None else np.full(1, np.nan)
            boot[(spec.name, f, s)] = per_boot
            lo, hi = np.quantile(per_boot, [0.025, 0.975])
            runs.append({"encoder": spec.name, "fraction": f, "seed": s,
                         "n_train": int(n_train) if len(parts) == 1 else n_train,
                         **run, "ci_low": float(lo), "ci_high": float(hi), **_merge_infos(infos)})
    summary, paired = summarise(runs, boot, [s.name for s in specs], opt.fractions, opt.seeds,
                                replicate_groups={s.name: s.group for s in specs})
    replicates = replicate_units([s.name for s in specs], {s.name: s.group for s in specs})
    for group, members in replicates.items():
        found = [diagnostics[m] for m in members if m in diagnostics]
        if found:
            diagnostics[group] = average_diagnostics(found)
    sizes = {k: float(np.mean([p[k].size for p in parts])) for k in ("train", "val", "test")}
    metrics = {
        "schema_version": METRICS_SCHEMA_VERSION,
        "threekg_version": __version__,
        "data": {"path": str(Path(data).resolve()), "n_records": len(ds), "fs": ds.fs,
                 "label_set": ds.manifest.get("label_set", ""),
                 "split": split_kind if len(parts) == 1 else f"{split_kind}-cv{len(parts)}",
                 "n_train": int(sizes["train"]) if len(parts) == 1 else sizes["train"],
                 "n_val": int(sizes["val"]) if len(parts) == 1 else sizes["val"],
                 "n_test": int(test_all.size), "n_folds": len(parts),
                 "n_unlabelled_excluded": int((~evaluated).sum()), "n_samples": ds.n_samples},
        "label_names": names,
        "groups": groups,
        "encoders": {s.name: {"source": s.source or s.kind, "kind": s.kind, "config": s.config,
                              "replicate_group": s.group, "init_seed": s.init_seed, "normalize": s.normalize}
                     for s in specs},
        "options": {"fractions": list(opt.fractions), "seeds": list(opt.seeds), "n_boot": opt.n_boot,
                    "bootstrap_seed": opt.bootstrap_seed, "crop_seconds": opt.crop_seconds,
                    "crop_samples": crop, "finetune": opt.finetune, "l2_grid": list(opt.l2_grid),
                    "threshold": opt.threshold, "split_seed": opt.split_seed, "split": opt.split,
                    "cv_folds": opt.cv_folds},
        "dropped_classes": dropped,
        "replicate_groups": replicates,
        "runs": runs,
        "summary": summary,
        "paired": paired,
        "diagnostics": diagnostics,
    }
    write_outputs(out, metrics)
    return metrics


def evaluated_records(labels: np.ndarray, manifest: dict[str, Any]) -> np.ndarray:
    """(N,) bool: the records evaluation uses. All of them, except for label sets whose manifest says
    ``evaluate_labelled_only`` (the PTB-XL benchmark tasks): there records with no label are left out."""
    if manifest.get("evaluate_labelled_only"):
        return np.asarray(np.asarray(labels).any(axis=1), dtype=bool)
    return np.ones(len(labels), dtype=bool)


SPLIT_MODES = ("fixed", "cv")
"""``fixed``: one train/val/test split (strat_fold 1-8/9/10, or patient-level 70/10/20);
``cv``: K-fold cross-validation, every record tested once."""


def _partitions(records: Any, out: Path, opt: EvalOptions,
                evaluated: np.ndarray) -> tuple[list[dict[str, np.ndarray]], str]:
    """The train/val/test index partitions of the evaluation (one for ``fixed``, K for ``cv``) and the
    split kind. The split is made over every record (``split.csv`` lists them all); the partitions then
    keep only the ``evaluated`` ones (:func:`evaluated_records`)."""
    if opt.split == "cv":
        folds, kind = load_or_make_folds(records, out / "split.csv", k=opt.cv_folds, seed=opt.split_seed)
        parts = fold_partitions(folds)
    else:
        split, kind = load_or_make_split(records, out / "split.csv", seed=opt.split_seed)
        parts = [{k: np.flatnonzero(split == k) for k in ("train", "val", "test")}]
    parts = [{k: v[evaluated[v]] for k, v in p.items()} for p in parts]
    for i, p in enumerate(parts):
        for k, v in p.items():
            if v.size == 0:
                where = f" of fold {i + 1}" if len(parts) > 1 else ""
                raise DataError(f"the {k} split{where} is empty ({kind} split of {int(evaluated.sum())} "
                                "evaluated records)", hint="evaluate on a dataset with more patients")
    return parts, kind


def _merge_infos(infos: list[dict[str, Any]]) -> dict[str, Any]:
    """One run's probe/training details: as they are for one partition; over folds, lists per fold
    (``probe_unconverged`` summed, ``mode`` kept)."""
    if len(infos) == 1:
        return infos[0]
    merged: dict[str, Any] = {"mode": infos[0]["mode"]}
    for k in infos[0]:
        if k == "mode":
            continue
        values = [i.get(k) for i in infos]
        merged[k] = int(sum(v or 0 for v in values)) if k == "probe_unconverged" else values
    return merged


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
