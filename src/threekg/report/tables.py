"""Tables of the report as plain data (:class:`Table`), rendered to HTML and Markdown elsewhere."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from threekg.report.model import ReportData, class_groups, finite
from threekg.report.stats import best_keys, per_class_stats, relative_gain

MISSING = "—"


@dataclass(frozen=True)
class Cell:
    text: str
    bold: bool = False
    title: str = ""


@dataclass
class Table:
    """``header`` is one row of column titles; ``spans`` an optional row above it of (title, n columns)."""

    header: list[str]
    rows: list[list[Cell]]
    spans: list[tuple[str, int]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def fraction_label(fraction: float) -> str:
    """0.01 -> '1%', 0.001 -> '0.1%', 1.0 -> '100%'."""
    return f"{100 * fraction:.6g}%"


def format_ci(mean: float, lo: float | None, hi: float | None, ci_decimals: int = 2) -> str:
    """The paper's cell: mean to 3 decimals, 95% CI bounds to 2, e.g. ``0.826 [0.81, 0.84]``;
    ``0.826 [CI n/a]`` when the evaluation wrote no finite interval."""
    if not (finite(lo) and finite(hi)):
        return f"{mean:.3f} [CI n/a]"
    return f"{mean:.3f} [{lo:.{ci_decimals}f}, {hi:.{ci_decimals}f}]"


def format_gain(pct: float) -> str:
    return f"{pct:+.1f}%"


def _provenance(data: ReportData) -> bool:
    return len(data.sources) > 1


def headline_table(data: ReportData) -> Table:
    """Rows = encoders (focus first, then baselines), columns = label fractions; macro AUROC [95% CI].

    The best mean per column is bold. One extra row per focus encoder gives its relative gain over the
    best self-supervised baseline of that column (see :func:`threekg.report.stats.relative_gain`).
    """
    prov = _provenance(data)
    header = ["Encoder", *(["Folder"] if prov else []), *(f"{fraction_label(f)} labels" for f in data.fractions)]
    best = {f: best_keys(data, f) for f in data.fractions}
    rows: list[list[Cell]] = []
    for e in data.encoders:
        row = [Cell(e.key), *([Cell(e.source.tag)] if prov else [])]
        for f in data.fractions:
            s = data.summary.get((e.key, f))
            if s is None:
                row.append(Cell(MISSING, title="not evaluated at this fraction"))
                continue
            n = s.get("n_seeds", len(data.runs.get((e.key, f), [])))
            row.append(Cell(format_ci(s["macro_auroc_mean"], s["ci_low"], s["ci_high"]), e.key in best[f],
                            title=f"mean over {n} seed(s)"))
        rows.append(row)
    notes = []
    for e in data.focus if any(x.role == "ssl" for x in data.encoders) else []:
        row = [Cell(f"{e.key}: gain over best self-supervised baseline"), *([Cell("")] if prov else [])]
        for f in data.fractions:
            g = relative_gain(data, e.key, f)
            row.append(Cell(MISSING, title="no self-supervised baseline") if g is None
                       else Cell(f"{format_gain(g[0])} (vs {g[1]})"))
        rows.append(row)
    if data.focus and not any(e.role == "ssl" for e in data.encoders):
        notes.append("No self-supervised baseline was evaluated (only random/supervised), so no relative gain.")
    return Table(header, rows, notes=notes)


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


CHALLENGE_NOTE = ("challenge: the CinC 2020 challenge metric (the organisers' final scorer) of binary outputs "
                  "'probability >= threshold', one global threshold for every class, given in each cell (the "
                  "evaluation's options.threshold, default 0.5). The challenge left thresholds to the participants; "
                  "thresholds tuned per class on validation data would score higher.")


def _threshold_label(source_doc: dict[str, Any]) -> str:
    threshold = (source_doc.get("options") or {}).get("threshold")
    return f"p ≥ {threshold:g}" if finite(threshold) else "threshold not recorded"


def secondary_table(data: ReportData) -> Table:
    """Macro AUPRC (mean over seeds) and, when any run has one, the CinC 2020 challenge metric with
    the threshold that made the binary outputs (``options.threshold`` of the evaluation)."""
    has_cm = any(finite(r.get("challenge_metric")) for rs in data.runs.values() for r in rs)
    header = ["Encoder", *(f"{fraction_label(f)} labels" for f in data.fractions)]
    rows = []
    for e in data.encoders:
        row = [Cell(e.key)]
        threshold = _threshold_label(e.source.doc)
        for f in data.fractions:
            runs = data.runs.get((e.key, f), [])
            s = data.summary.get((e.key, f)) or {}
            auprc = s.get("macro_auprc_mean")
            if not finite(auprc):
                auprc = _mean([float(r["macro_auprc"]) for r in runs if finite(r.get("macro_auprc"))])
            cm = _mean([float(r["challenge_metric"]) for r in runs if finite(r.get("challenge_metric"))])
            parts = [f"AUPRC {auprc:.3f}" if auprc is not None else f"AUPRC {MISSING}"]
            if has_cm:
                parts.append(f"challenge {cm:.3f} ({threshold})" if cm is not None else f"challenge {MISSING}")
            row.append(Cell(" · ".join(parts)))
        rows.append(row)
    return Table(header, rows, notes=[CHALLENGE_NOTE] if has_cm else [])


def per_class_table(data: ReportData) -> Table:
    """Rows = classes sorted by disease group; columns = (fraction, encoder); cells = mean per-class
    AUROC over seeds (best of each fraction in bold); dropped classes show the reason on hover."""
    keys = [e.key for e in data.encoders]
    header = ["Group", "Class"]
    spans: list[tuple[str, int]] = [("", 2)]
    stats = {}
    for f in data.fractions:
        spans.append((f"{fraction_label(f)} labels", len(keys)))
        header += keys
        for k in keys:
            stats[(k, f)] = per_class_stats(data, k, f)
    dropped: dict[str, str] = {}
    for src in data.sources:
        for cls, reason in (src.doc.get("dropped_classes") or {}).items():
            dropped.setdefault(cls, str(reason))
    for rs in data.runs.values():
        for r in rs:
            for cls, reason in (r.get("dropped_classes") or {}).items():
                dropped.setdefault(cls, str(reason))
    rows = []
    for group, classes in class_groups(data):
        for i, cls in enumerate(classes):
            row = [Cell(group if i == 0 else ""), Cell(cls)]
            for f in data.fractions:
                vals = {k: stats[(k, f)][cls].mean for k in keys if cls in stats[(k, f)]}
                top = max(vals.values()) if vals else None
                for k in keys:
                    if k in vals:
                        st = stats[(k, f)][cls]
                        row.append(Cell(f"{st.mean:.3f}", vals[k] == top and len(vals) > 1,
                                        title=f"sd over seeds {st.std:.3f}, n={st.n}"))
                    else:
                        row.append(Cell(MISSING, title=dropped.get(cls, "not evaluated")))
            rows.append(row)
    notes = [f"{cls}: dropped ({reason})" for cls, reason in dropped.items()]
    return Table(header, rows, spans=spans, notes=notes)


def runs_table(data: ReportData) -> Table:
    """Every run (encoder, fraction, seed) with n_train, macro AUROC [its own bootstrap CI], AUPRC."""
    header = ["Encoder", "Fraction", "Seed", "n_train", "Macro AUROC [95% CI]", "Macro AUPRC", "Dropped classes"]
    rows = []
    for e in data.encoders:
        for f in data.fractions:
            for r in data.runs.get((e.key, f), []):
                auroc = format_ci(r["macro_auroc"], r.get("ci_low"), r.get("ci_high"), ci_decimals=3)
                auprc = f"{r['macro_auprc']:.3f}" if finite(r.get("macro_auprc")) else MISSING
                drop = ", ".join(r.get("dropped_classes") or {}) or MISSING
                rows.append([Cell(e.key), Cell(fraction_label(f)), Cell(str(r["seed"])),
                             Cell(str(r.get("n_train", MISSING))), Cell(auroc), Cell(auprc), Cell(drop)])
    return Table(header, rows)


def to_markdown(table: Table) -> str:
    """GitHub-flavoured Markdown; bold cells as ``**x**``."""
    def esc(s: str) -> str:
        return s.replace("|", "\\|")

    lines = ["| " + " | ".join(esc(h) for h in table.header) + " |",
             "|" + "|".join("---" for _ in table.header) + "|"]
    for row in table.rows:
        lines.append("| " + " | ".join(f"**{esc(c.text)}**" if c.bold else esc(c.text) for c in row) + " |")
    lines += [f"\n{n}" for n in table.notes]
    return "\n".join(lines) + "\n"


def paired_table(data: ReportData) -> Table:
    """The evaluation's paired comparisons: difference of macro AUROC (a - b) with its paired-bootstrap
    95% CI, and the one-sided bootstrap p-value ``p_le_0`` when the file has it."""
    header = ["Encoder a", "Encoder b", "Fraction", "Δ macro AUROC (a − b) [95% CI]", "p(Δ ≤ 0)"]
    rows = []
    for row in data.paired:
        p = row.get("p_le_0")
        diff = row["diff_mean"]
        ci = (f"[{row['ci_low']:+.3f}, {row['ci_high']:+.3f}]"
              if finite(row.get("ci_low")) and finite(row.get("ci_high")) else "[CI n/a]")
        rows.append([Cell(row["a"]), Cell(row["b"]), Cell(fraction_label(row["fraction"])),
                     Cell(f"{diff:+.3f} {ci}"), Cell(f"{p:.3f}" if finite(p) else MISSING)])
    return Table(header, rows)
