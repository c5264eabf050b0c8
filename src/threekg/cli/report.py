"""Build a self-contained HTML report from one or more `threekg evaluate` output folders.

Each DIR must hold the `metrics.json` written by `threekg evaluate`. The page (figures embedded as
PNG, no external resources, no JavaScript) shows macro AUROC against label fraction with 95% CI
bands, per-class AUROC at the smallest fraction, the subgroup gains of the 3KG encoder(s) over each
baseline, the headline table in the paper's layout, a per-class table and the configuration of every
run. Next to it, `<stem>_files/` holds the same figures as PNG and `summary.md` (the headline table
in Markdown). Several DIRs are merged; rows keep the folder they came from.

Example:
  threekg report evals/cinc2020 --out report.html
  threekg report evals/run1 evals/run2 --out both.html --focus 3kg-spatial
"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "HTML report (figures, tables, configuration) from evaluation folders"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dirs", nargs="+", type=Path, metavar="DIR",
                        help="evaluation folder(s) holding metrics.json (or the metrics.json files)")
    parser.add_argument("--out", type=Path, default=Path("report.html"),
                        help="HTML file to write (default: report.html); figures go to <stem>_files/")
    parser.add_argument("--focus", default=None, metavar="NAME",
                        help="encoder whose gains over the baselines are shown (default: every encoder "
                             "whose name starts with '3kg')")


def run(args: argparse.Namespace) -> int:
    from threekg.report import build_report

    out = build_report(list(args.dirs), args.out, focus=args.focus)
    print(f"wrote {out} (figures and summary.md in {out.with_name(out.stem + '_files')})")
    return 0
