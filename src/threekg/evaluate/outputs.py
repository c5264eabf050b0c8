"""Summaries over seeds, paired differences, and the files: metrics.json, runs.csv, summary.csv, per_class.csv.

Summary CI of an (encoder, fraction): percentile 95% interval over the shared bootstrap
resamples of the seed-averaged macro AUROC. Paired CI of (a, b, fraction): the same for the
seed-averaged difference macro AUROC(a) - macro AUROC(b) (same subsets, same resamples).

Replicate groups (encoders ``NAME@K``: pretraining or initialisation seed K): each group of two or
more replicates gets a summary row of its own (``replicates`` lists the members) averaged over every
(replicate, subset seed) run, with ``replicate_std`` = the standard deviation across replicates of
their seed-averaged macro AUROC (the spread that pretraining seeds cause, which the bootstrap CI
does not cover), and paired rows against every other group and lone encoder.
"""

from __future__ import annotations

import itertools
import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

METRICS_SCHEMA_VERSION = 1
"""Version of the layout of ``metrics.json`` (docs/report.md, "The metrics.json contract"). Raised when
a field is renamed or removed or changes meaning; new optional fields keep it (readers ignore fields
they do not know). ``threekg.report.schema.READABLE_VERSIONS`` lists the versions the report reads."""


def _mean_dict(dicts: list[dict[str, float]]) -> dict[str, float]:
    keys = sorted({k for d in dicts for k in d}, key=lambda k: next(i for i, d in enumerate(dicts) if k in d))
    out = {}
    for k in keys:
        vals = [d[k] for d in dicts if k in d and d[k] is not None and np.isfinite(d[k])]
        out[k] = float(np.mean(vals)) if vals else float("nan")
    return out


def _summary_row(name: str, f: float, rs: list[dict[str, Any]], b: np.ndarray) -> dict[str, Any]:
    m = np.array([r["macro_auroc"] for r in rs])
    lo, hi = np.quantile(b, [0.025, 0.975])
    cms = [r["challenge_metric"] for r in rs if r["challenge_metric"] is not None]
    return {
        "encoder": name, "fraction": f, "n_seeds": len({r["seed"] for r in rs}),
        "n_train_mean": float(np.mean([r["n_train"] for r in rs])),
        "macro_auroc_mean": float(m.mean()), "macro_auroc_std": float(m.std(ddof=1)) if len(m) > 1 else 0.0,
        "ci_low": float(lo), "ci_high": float(hi),
        "per_class_auroc_mean": _mean_dict([r["per_class_auroc"] for r in rs]),
        "group_auroc_mean": _mean_dict([r["group_auroc"] for r in rs]),
        "macro_auprc_mean": float(np.mean([r["macro_auprc"] for r in rs])),
        "challenge_metric_mean": float(np.mean(cms)) if cms else None,
    }


def replicate_units(encoders: Sequence[str], replicate_groups: Mapping[str, str] | None) -> dict[str, list[str]]:
    """Groups of two or more replicates by name, in first-appearance order; raises ValueError when a group
    name is also the name of an encoder."""
    members: dict[str, list[str]] = {}
    for e in encoders:
        members.setdefault((replicate_groups or {}).get(e, e), []).append(e)
    groups = {g: m for g, m in members.items() if len(m) > 1}
    clash = sorted(set(groups) & set(encoders))
    if clash:
        raise ValueError(f"replicate group name(s) {clash} are also encoder names; rename the encoder(s)")
    return groups


def summarise(runs: list[dict[str, Any]], boot: dict[tuple[str, float, int], np.ndarray],
              encoders: Sequence[str], fractions: Sequence[float], seeds: Sequence[int],
              replicate_groups: Mapping[str, str] | None = None,
              ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(summary rows per encoder, and per replicate group, and fraction; paired rows per pair and fraction).

    ``replicate_groups``: encoder name -> group name (see the module docstring); None: no groups.
    """
    summary = []
    for e, f in itertools.product(encoders, fractions):
        rs = [r for r in runs if r["encoder"] == e and r["fraction"] == f]
        if not rs:
            continue
        summary.append(_summary_row(e, f, rs, np.mean([boot[(e, f, r["seed"])] for r in rs], axis=0)))
    groups = replicate_units(encoders, replicate_groups)
    for g, f in itertools.product(groups, fractions):
        rs = [r for r in runs if r["encoder"] in groups[g] and r["fraction"] == f]
        if not rs:
            continue
        row = _summary_row(g, f, rs, np.mean([boot[(r["encoder"], f, r["seed"])] for r in rs], axis=0))
        per_replicate = [np.mean([r["macro_auroc"] for r in rs if r["encoder"] == m]) for m in groups[g]
                         if any(r["encoder"] == m for r in rs)]
        row.update({"replicates": [m for m in groups[g] if any(r["encoder"] == m for r in rs)],
                    "n_replicates": len(per_replicate),
                    "replicate_std": float(np.std(per_replicate, ddof=1)) if len(per_replicate) > 1 else 0.0,
                    "replicate_macro_auroc": [float(v) for v in per_replicate]})
        summary.append(row)
    paired = []
    for a, b_ in itertools.combinations(encoders, 2):
        for f in fractions:
            common = [s for s in seeds if (a, f, s) in boot and (b_, f, s) in boot]
            if not common:
                continue
            ma = {r["seed"]: r["macro_auroc"] for r in runs if r["encoder"] == a and r["fraction"] == f}
            mb = {r["seed"]: r["macro_auroc"] for r in runs if r["encoder"] == b_ and r["fraction"] == f}
            d = np.mean([boot[(a, f, s)] - boot[(b_, f, s)] for s in common], axis=0)
            lo, hi = np.quantile(d, [0.025, 0.975])
            paired.append({"encoder_a": a, "encoder_b": b_, "fraction": f, "n_seeds": len(common),
                           "diff_mean": float(np.mean([ma[s] - mb[s] for s in common])),
                           "ci_low": float(lo), "ci_high": float(hi), "p_le_0": float((d <= 0).mean())})
    units: dict[str, list[str]] = {}  # groups and lone encoders, in the order of their first encoder
    for e in encoders:
        owner = next((name for name, m in groups.items() if e in m), None)
        if owner is None:
            units[e] = [e]
        elif owner not in units:
            units[owner] = groups[owner]
    for a, b_ in itertools.combinations(units, 2):
        if a not in groups and b_ not in groups:
            continue  # two lone encoders: already above
        for f in fractions:
            ra = [r for r in runs if r["encoder"] in units[a] and r["fraction"] == f and r["seed"] in seeds]
            rb = [r for r in runs if r["encoder"] in units[b_] and r["fraction"] == f and r["seed"] in seeds]
            if not ra or not rb:
                continue
            d = (np.mean([boot[(r["encoder"], f, r["seed"])] for r in ra], axis=0)
                 - np.mean([boot[(r["encoder"], f, r["seed"])] for r in rb], axis=0))
            lo, hi = np.quantile(d, [0.025, 0.975])
            paired.append({"encoder_a": a, "encoder_b": b_, "fraction": f,
                           "n_seeds": len({r["seed"] for r in ra} & {r["seed"] for r in rb}),
                           "n_replicates_a": len(units[a]), "n_replicates_b": len(units[b_]),
                           "diff_mean": float(np.mean([r["macro_auroc"] for r in ra])
                                              - np.mean([r["macro_auroc"] for r in rb])),
                           "ci_low": float(lo), "ci_high": float(hi), "p_le_0": float((d <= 0).mean())})
    return summary, paired


def average_diagnostics(docs: list[dict[str, Any]]) -> dict[str, Any]:
    """The mean of several encoders' diagnostics (a replicate group's): numbers averaged leaf by leaf
    (NaN/None left out), lists of equal length element by element, anything else taken from the first."""

    def mean(values: list[Any]) -> Any:
        first = values[0]
        if all(isinstance(v, dict) for v in values):
            return {k: mean([v[k] for v in values if k in v]) for k in first}
        if all(isinstance(v, list) for v in values) and len({len(v) for v in values}) == 1:
            return [mean([v[i] for v in values]) for i in range(len(first))]
        if all((isinstance(v, int | float) and not isinstance(v, bool)) or v is None for v in values):
            nums = [float(v) for v in values if v is not None and math.isfinite(float(v))]
            if isinstance(first, int) and all(isinstance(v, int) for v in values) and len(set(values)) == 1:
                return first  # identical counts (sizes, dimensions) stay whole numbers
            return float(np.mean(nums)) if nums else None
        return first

    out = mean(docs)
    out["replicates_averaged"] = len(docs)
    return out


def _clean(obj: Any) -> Any:
    """NaN/inf -> None, numpy scalars -> Python, recursively (strict JSON)."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def write_outputs(out: Path, metrics: dict[str, Any]) -> None:
    """Write the three CSV tables, then metrics.json, each atomically (temp file + rename).

    metrics.json is the folder's completion marker (the report and ``threekg experiment`` look for it),
    so it is written last: a folder with it always has its tables too.
    """
    out = Path(out)
    (out / "metrics.json").unlink(missing_ok=True)  # a re-run is incomplete until it is written again
    flat = ("encoder", "fraction", "seed", "n_train", "macro_auroc", "ci_low", "ci_high", "macro_auprc",
            "challenge_metric", "mode", "l2", "val_macro_auroc", "probe_iterations", "probe_unconverged", "best_epoch")
    runs = metrics["runs"]
    rows = []
    for r in runs:
        row = {k: r.get(k) for k in flat}
        row.update({f"group_{g}": v for g, v in r["group_auroc"].items()})
        rows.append(row)
    _csv_atomic(pd.DataFrame(rows), out / "runs.csv")
    srows = []
    for s in metrics["summary"]:
        row = {k: v for k, v in s.items() if not isinstance(v, dict)}
        row.update({f"group_{g}": v for g, v in s["group_auroc_mean"].items()})
        srows.append(row)
    _csv_atomic(pd.DataFrame(srows), out / "summary.csv")
    prow = [{"encoder": r["encoder"], "fraction": r["fraction"], "seed": r["seed"], "class": c,
             "auroc": v, "auprc": r["per_class_auprc"].get(c)} for r in runs for c, v in r["per_class_auroc"].items()]
    _csv_atomic(pd.DataFrame(prow, columns=["encoder", "fraction", "seed", "class", "auroc", "auprc"]),
                out / "per_class.csv")
    tmp = out / "metrics.json.tmp"
    tmp.write_text(json.dumps(_clean(metrics), indent=2, allow_nan=False) + "\n")
    os.replace(tmp, out / "metrics.json")


def _csv_atomic(df: pd.DataFrame, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    df.to_csv(tmp, index=False)
    os.replace(tmp, path)
