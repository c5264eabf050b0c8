"""Turn an ECG collection into a prepared dataset (memory-mapped signals + labels + tables).

Sources (auto-detected, or --format): a PhysioNet/CinC 2020/2021 tree (WFDB + MATLAB v4, `# Dx:`
SNOMED codes), PTB-XL (ptbxl_database.csv + records100/ or records500/), any folder of WFDB
records with --labels CSV, or a .npy/.npz of shape (N, 12, T) in mV, standard lead order.

Every record is converted to mV, reordered to I, II, III, aVR, aVL, aVF, V1-V6, resampled to --fs
and cropped (or padded) to --seconds. Bad records go to DIR/rejected.csv with a one-line reason.
An interrupted run resumes where it stopped when re-run with the same command.

Examples:
  threekg prepare ../shared/data/cinc2021-sample --out data/cinc --fs 500
  threekg prepare ptb-xl/ --out data/ptbxl100 --fs 100 --label-set ptbxl-rhythm
  threekg prepare my_wfdb/ --out data/mine --labels labels.csv
  threekg prepare ecgs.npy --out data/arr --fs 500 --labels labels.csv

PTB-XL label sets are the six tasks of the PTB-XL benchmark (Strodthoff et al. 2021): ptbxl-all,
ptbxl-diagnostic, ptbxl-subdiagnostic, ptbxl-superdiagnostic, ptbxl-form, ptbxl-rhythm; every
statement counts whatever its likelihood, and records with no label of the task are kept but left
out of evaluation, as in the benchmark. ptbxl-superclass is the former name of ptbxl-superdiagnostic.
"""

from __future__ import annotations

import argparse

from threekg.data.labelsets import LABEL_SET_ALIASES, LABEL_SETS
from threekg.data.sources import FORMATS

HELP = "read an ECG collection (CinC, PTB-XL, WFDB + CSV, arrays) into a prepared dataset"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("src", help="collection folder, or a .npy/.npz file")
    parser.add_argument("--out", required=True, help="output dataset folder")
    parser.add_argument("--format", choices=FORMATS, default="auto", help="source layout (default: auto)")
    parser.add_argument("--fs", type=float, default=500.0, help="output sampling rate in Hz (default: 500)")
    parser.add_argument("--seconds", type=float, default=10.0, help="output length in seconds (default: 10)")
    parser.add_argument("--short", choices=("pad", "reject"), default="pad",
                        help="records shorter than --seconds: zero-pad at the end or reject (default: pad)")
    parser.add_argument("--label-set", choices=(*LABEL_SETS, *LABEL_SET_ALIASES), default=None, metavar="SET",
                        help=f"one of {', '.join(LABEL_SETS)} (default: cinc2020 for CinC, ptbxl-superdiagnostic "
                             "for PTB-XL, csv with --labels, else none; ptbxl-superclass is the former name of "
                             "ptbxl-superdiagnostic)")
    parser.add_argument("--labels", default=None, help="labels CSV: a 'record' column and one 0/1 column per label")
    parser.add_argument("--input-fs", type=float, default=None,
                        help="sampling rate of .npy/.npz arrays in Hz (default: same as --fs)")
    parser.add_argument("--ptbxl-min-likelihood", type=float, default=None, metavar="X",
                        help="deviation from the PTB-XL benchmark: count a diagnostic statement only when its "
                             "likelihood is > X (default: every statement counts, as in the benchmark)")
    parser.add_argument("--dtype", choices=("float32", "float16"), default="float32",
                        help="signal storage type (default: float32)")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    parser.add_argument("--overwrite", action="store_true", help="replace a dataset made with other options")
    parser.add_argument("--limit", type=int, default=None, help="take only the first N candidate records")
    parser.add_argument("--folds", default=None, metavar="SPEC",
                        help="keep only the records of these strat_folds, e.g. 1-8 (PTB-XL's training folds: "
                             "pretrain without ever seeing the validation and test folds) or 1-3,9")


def run(args: argparse.Namespace) -> int:
    from threekg.data.prepare import prepare

    summary = prepare(
        args.src, args.out, format=args.format, fs=args.fs, seconds=args.seconds, short=args.short,
        label_set=args.label_set, labels=args.labels, dtype=args.dtype, workers=args.workers,
        overwrite=args.overwrite, limit=args.limit, input_fs=args.input_fs,
        ptbxl_min_likelihood=args.ptbxl_min_likelihood, folds=args.folds,
    )
    print(summary)
    return 0
