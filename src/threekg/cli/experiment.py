"""Run a whole study from one YAML file: data, pretraining of every method, evaluation, report.

Every step whose outputs exist with the same inputs and options is reused, so a re-run after an
interruption, or after adding one method to the file, does only the new work. Ends with the report.

CONFIG is a YAML file or the name of a study that ships with threekg:
  demo        synthetic data, 3KG vs SimCLR vs random (what `threekg demo` runs)
  cpu-study   synthetic data, 3KG, its ablations and every baseline (hours on a CPU)
  ptbxl-500   the 500 real PTB-XL records in ../shared/data (run from the repository root):
              3KG, its ablations and the baselines against random (docs/results.md section 1)
  ptbxl-500-recipe    on the same records: augmentation strengths, masks, temperature (section 3)
  ptbxl-500-rhythm    on the same records: PTB-XL's rhythm statements (section 2)
  ptbxl-500-corpora   pretraining on generated corpora (synthetic, DeepFake) mixed with them (section 5)
  ptbxl-500-check     the default 3KG pretrained by the current code against random: the check to
                      run after a change to views, methods, models or pretraining (section 5b)
  ptbxl-500-heldout   3KG pretrained without the test fold (folds 1-8) or with it (folds 3-10),
                      fixed split: is the real-label result optimistic? (section 6)
  paper       the paper's study on PhysioNet/CinC 2020 with GPU settings (needs the data)

Relative paths in a file resolve against the file's folder; in a shipped study, against the working
directory. See docs/experiment.md for the file format.

Examples:
  threekg experiment demo --out /tmp/demo
  threekg experiment paper --source data/cinc2020/training
  threekg experiment my-study.yaml --dry-run
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from threekg.cli.types import positive_int

if TYPE_CHECKING:
    from threekg.experiment import StudyConfig

HELP = "run a whole study (data, pretraining, evaluation, report) from one YAML file"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="study YAML file, or a shipped study name (listed above)")
    parser.add_argument("--out", type=Path, default=None, help="output folder (overrides the file's `out`)")
    parser.add_argument("--source", type=Path, default=None,
                        help="raw collection to prepare (replaces the file's data section's source)")
    parser.add_argument("--workers", type=positive_int, default=None, help="processes for data steps (default: all cores)")
    parser.add_argument("--device", default=None, help="device for evaluation, e.g. cpu or cuda (default: auto)")
    parser.add_argument("--dry-run", action="store_true", help="list the steps that would run, run nothing")
    parser.add_argument(
        "--keep-runs",
        action="store_true",
        help="use finished pretraining runs as they are even when their options' fingerprint changed "
        "(after upgrading threekg, say): only evaluation and report run again; each kept run is named "
        "in a warning",
    )


def load(args: argparse.Namespace) -> StudyConfig:
    from threekg.experiment import SHIPPED_STUDIES, load_config, study_path

    path = Path(args.config)
    if not path.exists() and args.config in SHIPPED_STUDIES:
        return load_config(study_path(args.config), out=args.out, base_dir=Path.cwd(), source=args.source)
    return load_config(path, out=args.out, source=args.source)


def run(args: argparse.Namespace) -> int:
    from threekg.experiment import run_study

    cfg = load(args)
    outcomes = run_study(cfg, workers=args.workers, device=args.device, dry_run=args.dry_run,
                         keep_runs=args.keep_runs)
    if not args.dry_run:
        ran = [o.name for o in outcomes if o.ran]
        print(f"study {cfg.name}: {len(ran)} step(s) ran, {len(outcomes) - len(ran)} reused; outputs in {cfg.out}")
        report = cfg.out / "report.html"
        if report.exists():
            print(f"report: {report}")
    return 0
