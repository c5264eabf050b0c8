"""Measure how close synthetic ECGs are to real ones, with NeuroKit2's delineation.

Every record of both sets is delineated by NeuroKit2 (R peaks with ecg_peaks; QRS bounds per lead
with the prominence method, P and T bounds with the DWT method on II, V2, V5), and about 80
features are read from it: P, QRS and T amplitudes and QRS duration per lead, P and T durations,
R/(R+S) in V1-V6, heart rate, PR, QRS, QT, QTc, frontal P/QRS/T axes, RR variability, beat-to-beat
correlation and amplitude variation, and noise levels (baseline wander, muscle, high band, mains).
It prints (and writes to OUT/realism.md) a table of the synthetic median against the real median
and interquartile range for every feature, and the cross-validated AUROC of classifiers told to
separate synth from real (logistic regression and boosted trees on the features, a small CNN on
the raw signals). With --reference, the same tests separate REAL from a second real collection:
the real-against-real line to read the synth numbers against. An AUROC of 0.5 means the sets
cannot be told apart.

SYNTH_DIR, REAL_DIR (and --reference) are prepared datasets (threekg prepare) or any collection
threekg prepare reads: a threekg synth tree, a CinC 2020/2021 tree, a PTB-XL folder, a WFDB folder.
Collections are prepared at 500 Hz into OUT/prepared/ once (again when the source changes); PTB-XL
keeps every SCP statement as a label, so --real-select NORM or CLBBB works.

Selections (--synth-select, --real-select, --reference-select) name the dataset's labels:
  NSR          records labelled NSR          A+B     records labelled A and B
  =NSR         records whose only label is NSR (for a synth tree: the normal records)

Outputs in OUT: realism.md, realism.csv, discriminators.json, features_<set>.csv,
failed_<set>.csv (records NeuroKit2 could not delineate, with the reason), distributions.png,
per_lead.png. Measuring is resumable: a re-run measures only what is missing. About 1.5 s of CPU
per 10 s record at 500 Hz.

Examples:
  threekg synth /tmp/synth --n 2000 --seed 11
  threekg realism /tmp/synth ../shared/data/ptbxl-500 --out /tmp/realism \\
      --synth-select =NSR --real-select NORM --reference ../shared/data/cinc2021-sample
"""

from __future__ import annotations

import argparse

from threekg.cli.types import positive_int

HELP = "measure synthetic ECGs against real ones (NeuroKit2 features, realism table, two-sample AUROC)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("synth", metavar="SYNTH_DIR", help="synthetic records (prepared dataset or collection)")
    parser.add_argument("real", metavar="REAL_DIR", help="real records (prepared dataset or collection)")
    parser.add_argument("--out", required=True, help="output folder (created; a re-run resumes)")
    parser.add_argument("--synth-select", default=None, metavar="SPEC",
                        help="which synthetic records, e.g. =NSR (default: all)")
    parser.add_argument("--real-select", default=None, metavar="SPEC",
                        help="which real records, e.g. NORM (default: all)")
    parser.add_argument("--reference", default=None, metavar="DIR",
                        help="a second real collection: the real-against-real reference line")
    parser.add_argument("--reference-select", default=None, metavar="SPEC", help="which reference records")
    parser.add_argument("--max-records", type=int, default=400,
                        help="at most this many records per set, drawn with --seed (default 400; 0: all)")
    parser.add_argument("--seed", type=int, default=0, help="subsampling and cross-validation seed (default 0)")
    parser.add_argument("--no-cnn", action="store_true", help="skip the CNN two-sample test (about 1 min)")
    parser.add_argument("--workers", type=positive_int, default=None, help="processes (default: all cores)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    from threekg.synth.realism.run import report_markdown, run_realism

    # NeuroKit2 missing, unusable inputs (a missing folder, an unknown label, too few records) are UserErrors (cli.main)
    result = run_realism(
        args.synth, args.real, args.out, synth_select=args.synth_select, real_select=args.real_select,
        reference=args.reference, reference_select=args.reference_select,
        max_records=args.max_records or None, seed=args.seed, cnn=not args.no_cnn, workers=args.workers,
        progress=not args.no_progress)
    print(report_markdown(result))
    print(f"\nwritten: {', '.join(str(p) for p in result.files.values())}")
    return 0
