"""``build_report``: metrics folders -> one self-contained HTML page, PNG figures and summary.md."""

from __future__ import annotations

import datetime as dt
import json
import os
from html import escape
from pathlib import Path

from threekg import __version__
from threekg.errors import UsageError
from threekg.report import figures, html
from threekg.report.diagnostics import diagnostics_table
from threekg.report.model import ReportData, merge
from threekg.report.schema import load_metrics, metrics_path
from threekg.report.tables import (
    MISSING,
    Cell,
    Table,
    fraction_label,
    headline_table,
    paired_table,
    per_class_table,
    runs_table,
    secondary_table,
    to_markdown,
)

FIGURE_FILES = {"auroc_vs_fraction": "auroc_vs_fraction.png", "per_class": "per_class_auroc.png",
                "subgroup_gains": "subgroup_gains.png"}
SUMMARY_FILE = "summary.md"
DIAGNOSTICS_NOTE = ("Properties of the frozen embeddings that explain the probe's result (docs/evaluate.md, "
                    "'Diagnostics'): each encoder is compared with the random encoder of the same evaluation.")


def files_dir(out: Path) -> Path:
    """Folder next to the page that holds the PNGs and summary.md: ``report.html`` -> ``report_files/``."""
    return out.with_name(f"{out.stem}_files")


def _sources_section(data: ReportData) -> list[str]:
    body = ["<h2>Runs: configuration and data</h2>"]
    for s in data.sources:
        d = s.doc
        fr = sorted({float(r["fraction"]) for r in d["runs"]})
        seeds = sorted({r["seed"] for r in d["runs"]}, key=str)
        mtime = dt.datetime.fromtimestamp(s.path.stat().st_mtime, dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        rows = [("metrics file", str(s.path.resolve())), ("written", mtime),
                ("threekg version (evaluate)", str(d["threekg_version"]))]
        rows += [(f"data.{k}", str(v)) for k, v in d["data"].items()]
        rows += [("label fractions", ", ".join(fraction_label(f) for f in fr)),
                 ("seeds", ", ".join(map(str, seeds))),
                 (f"label set ({len(d['label_names'])} classes)", ", ".join(d["label_names"]))]
        n_train = sorted({(float(r["fraction"]), r["n_train"]) for r in d["runs"] if "n_train" in r})
        if n_train:
            rows.append(("n_train per fraction", ", ".join(f"{fraction_label(f)}: {n}" for f, n in n_train)))
        body.append(f"<h3>Folder {s.tag}: {escape(str(s.path.parent))}</h3>")
        body.append("<table>" + "".join(f"<tr><th>{escape(k)}</th><td style='text-align:left;white-space:normal'>"
                                         f"{escape(v)}</td></tr>" for k, v in rows) + "</table>")
        if d.get("groups"):
            body.append("<p><b>Disease groups</b></p>" + html.table(Table(
                ["Group", "Classes"], [[Cell(g), Cell(", ".join(m))] for g, m in d["groups"].items()])))
        body.append("<p><b>Encoders</b></p>" + html.table(Table(
            ["Encoder", "Source", "Configuration"],
            [[Cell(name), Cell(str(info.get("source", MISSING))),
              Cell(json.dumps({k: v for k, v in info.items() if k != "source"}, sort_keys=True, default=str))]
             for name, info in d["encoders"].items()]), "config"))
        extra = {k: v for k, v in d.items()
                 if k not in {"threekg_version", "data", "label_names", "groups", "encoders", "runs", "summary",
                              "paired", "diagnostics"}}
        if extra:
            body.append("<p><b>Other fields of metrics.json</b></p>" + html.pre_json(extra))
    return body


def build_report(dirs: list[Path], out: Path, focus: str | None = None) -> Path:
    """Write the report for the evaluation folders ``dirs`` (each holding a ``metrics.json``) to ``out``.

    Also writes ``<out stem>_files/`` with the figures as PNG (150 dpi) and ``summary.md`` (the
    headline table in Markdown). ``focus`` names the encoder whose gains are shown (default: every
    encoder whose name starts with ``3kg``). Returns ``out``. Raises
    :class:`~threekg.report.schema.MetricsFormatError` for a malformed metrics file and ``ValueError``
    when ``dirs`` is empty or ``focus`` matches no encoder.
    """
    if not dirs:
        raise UsageError("no evaluation folder given")
    out = Path(out)
    docs = [(metrics_path(Path(d)), load_metrics(d)) for d in dirs]
    data = merge(docs, focus=focus)
    fdir = files_dir(out)
    fdir.mkdir(parents=True, exist_ok=True)

    smallest = data.fractions[0]
    pngs = {"auroc_vs_fraction": figures.auroc_vs_fraction(data), "per_class": figures.per_class_bars(data, smallest)}
    gains = figures.subgroup_gains(data)
    if gains is not None:
        pngs["subgroup_gains"] = gains
    for name, png in pngs.items():
        (fdir / FIGURE_FILES[name]).write_bytes(png)

    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    head = headline_table(data)
    diag = diagnostics_table(data)
    prov = ", ".join(f"{s.tag} = {s.path.parent}" for s in data.sources)
    (fdir / SUMMARY_FILE).write_text(
        f"Macro AUROC, mean over seeds [95% CI]; best per column in bold. Folders: {prov}. "
        f"threekg {__version__}, {now}.\n\n" + to_markdown(head)
        + (f"\n## Representation diagnostics\n\n{DIAGNOSTICS_NOTE}\n\n" + to_markdown(diag) if diag else ""),
        encoding="utf-8")

    focus_names = ", ".join(e.key for e in data.focus) or "none"
    body = [f"<h1>threekg evaluation report</h1><p class='meta'>threekg {escape(__version__)} · generated {now} · "
            f"{len(data.sources)} evaluation folder(s): {escape(prov)} · focus encoder(s): {escape(focus_names)}</p>"]
    body += [f"<div class='warn'>{escape(w)}</div>" for w in data.warnings]
    body += ["<h2>Headline: macro AUROC by label fraction</h2>", html.table(head, "headline"),
             "<p class='note'>Cells: mean macro AUROC over seeds [95% CI from the evaluation summary]. "
             "Bold: best mean in the column. Gain rows: 100 × (focus − best self-supervised baseline) / best, "
             "on the means; random and supervised are not self-supervised baselines.</p>"]
    body.append(html.figure(pngs["auroc_vs_fraction"], "macro AUROC vs label fraction",
                            "Macro AUROC against label fraction (log scale). Line: mean over seeds; band: the "
                            "summary's 95% CI (ci_low, ci_high); dots: single seeds. Dotted line: chance.",
                            figures.DPI))
    body.append(html.figure(pngs["per_class"], f"per-class AUROC at {fraction_label(smallest)}",
                            f"Per-class AUROC at the smallest label fraction ({fraction_label(smallest)}), classes "
                            "sorted by disease group. Bars start at chance (0.5); whiskers: sample sd over seeds.",
                            figures.DPI))
    if gains is not None:
        body.append(html.figure(gains, "subgroup gains",
                                "Mean AUROC difference (focus − baseline) per disease group and over all classes. "
                                "Black bar: paired-bootstrap 95% CI from metrics.json `paired` where present "
                                "(otherwise no CI is drawn); dots: per-seed differences on identical label subsets.",
                                figures.DPI))
    else:
        body.append("<p class='note'>No subgroup-gain figure: no focus encoder (name starting with '3kg' or "
                    "--focus) or no baseline.</p>")
    if data.paired:
        body += ["<h2>Paired comparisons (from the evaluation)</h2>", html.table(paired_table(data))]
    body += ["<h2>Other metrics</h2>", html.table(secondary_table(data)),
             *(["<h2>Representation diagnostics</h2>", f"<p class='note'>{escape(DIAGNOSTICS_NOTE)}</p>",
                html.table(diag, "diag")] if diag else []),
             "<h2>Per-class AUROC (mean over seeds)</h2>", html.table(per_class_table(data), "perclass")]
    body += ["<details><summary>Every run</summary>", html.table(runs_table(data)), "</details>"]
    body += _sources_section(data)
    out.parent.mkdir(parents=True, exist_ok=True)
    # Atomic: a full disk must never leave a truncated report.html that looks finished.
    tmp = out.with_name(out.name + ".tmp")
    try:
        tmp.write_text(html.page("threekg evaluation report", body), encoding="utf-8")
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out
