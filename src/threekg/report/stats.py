"""Numbers derived from the merged metrics: per-class means over seeds, subgroup gains, relative gains.

Nothing here re-estimates a confidence interval: intervals come from ``metrics.json`` (``summary`` and
``paired``) as written by ``threekg evaluate``; this module only averages over seeds and subtracts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from threekg.report.model import ReportData, finite

MACRO_LABEL = "all classes (macro)"


@dataclass(frozen=True)
class ClassStat:
    """Per-class AUROC of one encoder at one fraction: mean over seeds, sample std over seeds, n seeds."""

    mean: float
    std: float
    n: int


@dataclass(frozen=True)
class Gain:
    """Focus minus baseline AUROC for one disease group (or all classes).

    ``ci_low``/``ci_high`` are the paired-bootstrap 95% CI from ``metrics.json`` (None when the file
    has none for this comparison); ``seed_diffs`` are the per-seed differences on identical label
    subsets (empty when the two encoders come from different folders).
    """

    group: str
    diff: float
    ci_low: float | None
    ci_high: float | None
    seed_diffs: tuple[float, ...]


def _std(values: list[float]) -> float:
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def per_class_stats(data: ReportData, key: str, fraction: float) -> dict[str, ClassStat]:
    """Per-class AUROC of encoder ``key`` at ``fraction``; classes without a finite value are omitted.

    The mean is the summary's ``per_class_auroc_mean`` when present, else the mean of the runs'
    ``per_class_auroc`` over seeds; the spread is the sample standard deviation over seeds.
    """
    runs = data.runs.get((key, fraction), [])
    summary_means = (data.summary.get((key, fraction)) or {}).get("per_class_auroc_mean") or {}
    out: dict[str, ClassStat] = {}
    for cls in data.label_names:
        values = [float(r["per_class_auroc"][cls]) for r in runs if finite(r["per_class_auroc"].get(cls))]
        mean = summary_means.get(cls)
        if finite(mean):
            out[cls] = ClassStat(float(mean), _std(values), len(values))  # type: ignore[arg-type]
        elif values:
            out[cls] = ClassStat(float(np.mean(values)), _std(values), len(values))
    return out


def group_auroc(run: dict[str, Any], groups: dict[str, list[str]]) -> dict[str, float]:
    """Group AUROC of one run: its ``group_auroc`` when present, else the mean per-class AUROC of the group."""
    given = run.get("group_auroc") or {}
    out: dict[str, float] = {}
    for g, members in groups.items():
        if finite(given.get(g)):
            out[g] = float(given[g])
            continue
        values = [float(run["per_class_auroc"][c]) for c in members if finite(run["per_class_auroc"].get(c))]
        if values:
            out[g] = float(np.mean(values))
    return out


def _group_means(data: ReportData, key: str, fraction: float) -> dict[str, float]:
    given = (data.summary.get((key, fraction)) or {}).get("group_auroc_mean") or {}
    per_run = [group_auroc(r, data.groups) for r in data.runs.get((key, fraction), [])]
    out: dict[str, float] = {}
    for g in data.groups:
        if finite(given.get(g)):
            out[g] = float(given[g])
        else:
            values = [v[g] for v in per_run if g in v]
            if values:
                out[g] = float(np.mean(values))
    return out


def find_paired(data: ReportData, a: str, b: str, fraction: float) -> tuple[dict[str, Any], float] | None:
    """The ``paired`` row comparing ``a`` and ``b`` at ``fraction`` and the sign that makes it a - b."""
    for row in data.paired:
        if row["fraction"] != fraction:
            continue
        if (row["a"], row["b"]) == (a, b):
            return row, 1.0
        if (row["a"], row["b"]) == (b, a):
            return row, -1.0
    return None


def _ci(entry: Any, sign: float) -> tuple[float | None, float | None]:
    if not isinstance(entry, dict) or not (finite(entry.get("ci_low")) and finite(entry.get("ci_high"))):
        return None, None
    lo, hi = sign * float(entry["ci_low"]), sign * float(entry["ci_high"])
    return min(lo, hi), max(lo, hi)


def group_gains(data: ReportData, focus: str, baseline: str, fraction: float) -> list[Gain]:
    """AUROC gains of ``focus`` over ``baseline`` at ``fraction``, one per disease group plus all classes.

    The macro row uses the ``paired`` entry (``diff_mean`` and its CI) when present, else the
    difference of the summary means. Group rows use a paired entry's ``group_diff`` (or ``groups``)
    ``{group: {diff_mean, ci_low, ci_high}}`` when the evaluation wrote one, else the difference of
    the mean group AUROC over seeds without a CI.
    """
    pair = find_paired(data, focus, baseline, fraction)
    same_source = data.encoder(focus).source is data.encoder(baseline).source
    runs_f = {r["seed"]: r for r in data.runs.get((focus, fraction), [])}
    runs_b = {r["seed"]: r for r in data.runs.get((baseline, fraction), [])}
    seeds = sorted(set(runs_f) & set(runs_b)) if same_source else []
    gains: list[Gain] = []

    mf, mb = _group_means(data, focus, fraction), _group_means(data, baseline, fraction)
    group_pairs: dict[str, Any] = {}
    if pair is not None:
        group_pairs = pair[0].get("group_diff") or pair[0].get("groups") or {}
    for g in data.groups:
        entry, sign = group_pairs.get(g), (pair[1] if pair else 1.0)
        seed_diffs = []
        for s in seeds:
            gf, gb = group_auroc(runs_f[s], data.groups), group_auroc(runs_b[s], data.groups)
            if g in gf and g in gb:
                seed_diffs.append(gf[g] - gb[g])
        if isinstance(entry, dict) and finite(entry.get("diff_mean")):
            diff = sign * float(entry["diff_mean"])
        elif g in mf and g in mb:
            diff = mf[g] - mb[g]
        else:
            continue
        lo, hi = _ci(entry, sign)
        gains.append(Gain(g, diff, lo, hi, tuple(seed_diffs)))

    sf, sb = data.summary.get((focus, fraction)), data.summary.get((baseline, fraction))
    macro_seeds = tuple(float(runs_f[s]["macro_auroc"]) - float(runs_b[s]["macro_auroc"]) for s in seeds)
    if pair is not None:
        row, sign = pair
        lo, hi = _ci(row, sign)
        gains.append(Gain(MACRO_LABEL, sign * float(row["diff_mean"]), lo, hi, macro_seeds))
    elif sf is not None and sb is not None:
        diff = float(sf["macro_auroc_mean"]) - float(sb["macro_auroc_mean"])
        gains.append(Gain(MACRO_LABEL, diff, None, None, macro_seeds))
    return gains


def best_ssl_baseline(data: ReportData, fraction: float, focus: str | None = None) -> str | None:
    """Key of the self-supervised baseline (role ``ssl``) with the highest mean macro AUROC at
    ``fraction``, among those comparable with ``focus`` (evaluated on the same data) when given."""
    cands = [(float(data.summary[(e.key, fraction)]["macro_auroc_mean"]), e.key)
             for e in data.encoders if e.role == "ssl" and (e.key, fraction) in data.summary
             and (focus is None or data.comparable(focus, e.key))]
    return max(cands)[1] if cands else None


def relative_gain(data: ReportData, focus: str, fraction: float) -> tuple[float, str] | None:
    """Relative gain in percent of ``focus`` over the best self-supervised baseline at ``fraction``:
    ``100 * (auroc_focus - auroc_best) / auroc_best`` on the summary means, and that baseline's key."""
    best = best_ssl_baseline(data, fraction, focus)
    if best is None or (focus, fraction) not in data.summary:
        return None
    f = float(data.summary[(focus, fraction)]["macro_auroc_mean"])
    b = float(data.summary[(best, fraction)]["macro_auroc_mean"])
    return 100.0 * (f - b) / b, best


def best_keys(data: ReportData, fraction: float) -> set[str]:
    """Encoders with the highest mean macro AUROC at ``fraction`` (several on an exact tie)."""
    vals = {e.key: float(data.summary[(e.key, fraction)]["macro_auroc_mean"])
            for e in data.encoders if (e.key, fraction) in data.summary}
    if not vals:
        return set()
    top = max(vals.values())
    return {k for k, v in vals.items() if v == top}
