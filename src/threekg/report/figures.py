"""The report's figures as PNG bytes (matplotlib, Agg, no pyplot global state).

Every encoder keeps one colour in every figure (:func:`encoder_colours`).
"""

from __future__ import annotations

import io
import textwrap
from typing import Any

import matplotlib as mpl
import numpy as np
from matplotlib.artist import Artist
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FixedLocator, NullLocator

from threekg.report.model import ReportData, class_groups, finite
from threekg.report.stats import MACRO_LABEL, group_gains, per_class_stats
from threekg.report.tables import fraction_label

_FOCUS = ["#d62728", "#ff7f0e", "#8c564b", "#e377c2"]
_OTHER = ["#1f77b4", "#2ca02c", "#9467bd", "#17becf", "#bcbd22", "#aec7e8", "#98df8a", "#c5b0d5"]
_FIXED = {"random": "#8c8c8c", "supervised": "#222222"}
DPI = 150
_STYLE: dict[Any, Any] = {"font.size": 12, "axes.titlesize": 13, "axes.labelsize": 12, "legend.fontsize": 11,
          "xtick.labelsize": 11, "ytick.labelsize": 11, "axes.spines.top": False, "axes.spines.right": False}


def encoder_colours(data: ReportData) -> dict[str, str]:
    """Encoder key -> colour: reds/oranges for focus encoders, blues/greens for self-supervised
    baselines, grey for random and near-black for supervised (cycling when there are many)."""
    out: dict[str, str] = {}
    counters = {"focus": 0, "ssl": 0}
    for e in data.encoders:
        if e.role in counters:
            pal = _FOCUS if e.role == "focus" else _OTHER
            out[e.key] = pal[counters[e.role] % len(pal)]
            counters[e.role] += 1
        else:
            n = sum(1 for x in data.encoders if x.role == e.role and x.key in out)
            out[e.key] = _FIXED[e.role] if n == 0 else _OTHER[(counters["ssl"] + n) % len(_OTHER)]
    return out


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight", facecolor="white")
    return buf.getvalue()


def auroc_vs_fraction(data: ReportData) -> bytes:
    """Macro AUROC (mean over seeds) against label fraction (log x), 95% CI band per encoder, seeds as dots."""
    colours = encoder_colours(data)
    with mpl.rc_context(_STYLE):
        fig = Figure(figsize=(8.5, 5.5))
        ax = fig.add_subplot()
        for e in data.encoders:
            fr = [f for f in data.fractions if (e.key, f) in data.summary]
            if not fr:
                continue
            s = [data.summary[(e.key, f)] for f in fr]
            mean = [r["macro_auroc_mean"] for r in s]
            c = colours[e.key]
            lw = 2.8 if e.role == "focus" else 1.8
            ax.plot(fr, mean, "-o", color=c, lw=lw, ms=6, label=e.key, zorder=3)
            ci_lo = [r["ci_low"] if finite(r["ci_low"]) else np.nan for r in s]
            ci_hi = [r["ci_high"] if finite(r["ci_high"]) else np.nan for r in s]
            ax.fill_between(fr, ci_lo, ci_hi, color=c, alpha=0.15,
                            lw=0, zorder=1)
            for f in fr:
                seeds = [r["macro_auroc"] for r in data.runs.get((e.key, f), [])]
                ax.scatter([f] * len(seeds), seeds, s=12, color=c, alpha=0.6, lw=0, zorder=2)
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(FixedLocator(data.fractions))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xticklabels([fraction_label(f) for f in data.fractions])
        if len(data.fractions) > 1:
            lo, hi = min(data.fractions), max(data.fractions)
            ax.set_xlim(lo / (hi / lo) ** 0.06, hi * (hi / lo) ** 0.06)
        ax.axhline(0.5, color="0.6", ls=":", lw=1)
        ax.set_xlabel("Labelled training data (% of training split, log scale)")
        ax.set_ylabel("Macro AUROC on the test set")
        ax.set_title("Linear evaluation: macro AUROC vs label fraction")
        ax.grid(True, axis="y", alpha=0.3)
        handles, labels = ax.get_legend_handles_labels()
        handles += [Patch(color="0.5", alpha=0.25), Line2D([], [], ls="", marker="o", ms=4, color="0.4")]
        labels += ["95% CI (summary)", "single seeds"]
        ax.legend(handles, labels, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
        return _png(fig)


MAX_BARS_PER_ROW = 84


def _split_rows(groups: list[tuple[str, list[str]]], max_classes: int) -> list[list[tuple[str, list[str]]]]:
    """Greedy rows of whole groups with at most ``max_classes`` classes (a larger group is cut)."""
    rows: list[list[tuple[str, list[str]]]] = [[]]
    count = 0
    for g, cs in groups:
        for i in range(0, len(cs), max_classes):
            part = cs[i:i + max_classes]
            if count and count + len(part) > max_classes:
                rows.append([])
                count = 0
            rows[-1].append((g, part))
            count += len(part)
    return rows


def _class_panel(ax: Any, groups: list[tuple[str, list[str]]], keys: list[str], stats: dict[str, Any],
                 colours: dict[str, str], ylim: tuple[float, float], n_slots: int) -> None:
    classes = [c for _, cs in groups for c in cs]
    width = 0.8 / max(len(keys), 1)
    x = np.arange(len(classes), dtype=float)
    for j, k in enumerate(keys):
        pos = x - 0.4 + width * (j + 0.5)
        vals = np.array([stats[k][c].mean if c in stats[k] else np.nan for c in classes])
        err = np.array([stats[k][c].std if c in stats[k] else 0.0 for c in classes])
        ax.bar(pos, vals - 0.5, width, bottom=0.5, color=colours[k], label=k, zorder=2)
        ok = ~np.isnan(vals) & (err > 0)
        ax.errorbar(pos[ok], vals[ok], yerr=err[ok], fmt="none", ecolor="0.25", elinewidth=0.8,
                    capsize=1.5, zorder=3)
    ax.axhline(0.5, color="0.3", lw=1)
    ax.set_xticks(x)
    ax.set_xticklabels(classes, rotation=60, ha="right", rotation_mode="anchor")
    ax.set_xlim(-0.6, n_slots - 0.4)
    ax.set_ylim(*ylim)
    ax.set_ylabel("AUROC (bars from chance, 0.5)")
    ax.grid(True, axis="y", alpha=0.3, zorder=0)
    start = 0
    for i, (g, cs) in enumerate(groups):
        end = start + len(cs)
        if i:
            ax.axvline(start - 0.5, color="0.7", lw=1, ls="--", zorder=1)
        label = "\n".join(textwrap.wrap(g, max(8, 3 * len(cs))))
        ax.text((start + end - 1) / 2, 1.01, label, transform=ax.get_xaxis_transform(), ha="center",
                va="bottom", fontsize=10, color="0.2")
        start = end


def per_class_bars(data: ReportData, fraction: float) -> bytes:
    """Per-class AUROC at ``fraction``: bars from chance (0.5) per encoder, classes grouped by disease
    group, error bars = sample std over seeds. Many encoders x classes are split over several rows
    (at most ``MAX_BARS_PER_ROW`` bars each) so the figure stays readable at slide size."""
    colours = encoder_colours(data)
    keys = [e.key for e in data.encoders if (e.key, fraction) in data.summary]
    stats = {k: per_class_stats(data, k, fraction) for k in keys}
    m = max(len(keys), 1)
    rows = _split_rows(class_groups(data), max(4, MAX_BARS_PER_ROW // m))
    slots = max(sum(len(cs) for _, cs in r) for r in rows)
    all_vals = [s.mean - s.std for st in stats.values() for s in st.values()]
    ylim = (min(0.48, min(all_vals, default=0.5) - 0.02), 1.0)
    with mpl.rc_context(_STYLE):
        fig = Figure(figsize=(max(10.0, min(17.0, 0.15 * slots * m + 3.0)), 4.6 * len(rows) + 0.8),
                     layout="constrained")
        axes = fig.subplots(len(rows), 1, squeeze=False)[:, 0]
        for ax, row in zip(axes, rows, strict=True):
            _class_panel(ax, row, keys, stats, colours, ylim, slots)
        axes[-1].set_xlabel("Class (grouped by disease group)")
        fig.suptitle(f"Per-class AUROC at {fraction_label(fraction)} labels (mean over seeds ± sd over seeds)")
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside right upper", frameon=False)
        return _png(fig)


def subgroup_gains(data: ReportData) -> bytes | None:
    """AUROC gain of each focus encoder over each baseline per disease group, one panel per
    (focus, fraction); whiskers = paired-bootstrap 95% CI when metrics.json has one, dots = seeds.
    None when there is no focus encoder or no baseline."""
    focus, bases = data.focus, data.baselines
    if not focus or not bases:
        return None
    colours = encoder_colours(data)
    rows_labels = [*data.groups, MACRO_LABEL]
    nr, nf, nb = len(focus), len(data.fractions), len(bases)
    with mpl.rc_context(_STYLE):
        fig = Figure(figsize=(3.6 * nf + 2.8, (0.32 * len(rows_labels) * nb + 1.6) * nr + 1.0),
                     layout="constrained")
        axes = fig.subplots(nr, nf, sharex=True, sharey=True, squeeze=False)
        for r, fe in enumerate(focus):
            for c, f in enumerate(data.fractions):
                ax = axes[r][c]
                y = np.arange(len(rows_labels), dtype=float)[::-1]
                comp = [b for b in bases if data.comparable(fe.key, b.key)]
                height = 0.8 / max(len(comp), 1)
                for j, b in enumerate(comp):
                    gains = {g.group: g for g in group_gains(data, fe.key, b.key, f)}
                    pos = y + 0.4 - height * (j + 0.5)
                    for i, lab in enumerate(rows_labels):
                        g = gains.get(lab)
                        if g is None:
                            continue
                        ax.barh(pos[i], g.diff, height, color=colours[b.key], zorder=2,
                                label=b.key if i == len(rows_labels) - 1 else None)
                        if g.ci_low is not None and g.ci_high is not None:
                            ax.plot([g.ci_low, g.ci_high], [pos[i]] * 2, color="black", lw=1.3, zorder=4)
                        if g.seed_diffs:
                            ax.scatter(g.seed_diffs, [pos[i]] * len(g.seed_diffs), s=9, color="black",
                                       alpha=0.55, lw=0, zorder=3)
                ax.axvline(0, color="0.3", lw=1)
                ax.axhline(0.5, color="0.8", lw=0.8)
                ax.set_yticks(y)
                ax.set_yticklabels(rows_labels)
                ax.grid(True, axis="x", alpha=0.3)
                ax.set_title(f"{fe.key} — {fraction_label(f)} labels", fontsize=12)
                if r == nr - 1:
                    ax.set_xlabel("ΔAUROC (focus − baseline)")
        handles: list[Artist] = [Patch(color=colours[b.key], label=f"vs {b.key}") for b in bases]
        handles += [Line2D([], [], color="black", lw=1.3, label="paired-bootstrap 95% CI"),
                    Line2D([], [], ls="", marker="o", ms=4, color="black", alpha=0.55, label="single seeds")]
        fig.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 5), frameon=False)
        fig.suptitle("Subgroup gains of the 3KG encoder(s) over each baseline (mean AUROC difference)")
        return _png(fig)
