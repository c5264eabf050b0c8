"""Generate physiological synthetic 12-lead ECGs as a PhysioNet/CinC-2020-style tree.

Each record comes from a 3-D heart-dipole model (sum of Gaussians, projected to 12 leads with the
Dower matrix), with per-patient heart orientation, size, rate and wave shapes, realistic noise, and
multi-label diagnoses (all 24 scored CinC 2020 classes: NSR, SB, STach, SA, AF, AFL, Brady, PR,
IAVB, LPR, RBBB, IRBBB, LBBB, NSIVCB, LAnFB, LAD, RAD, LQRSV, LQT, TInv, TAb, QAb, PAC, PVC; real
SNOMED codes in '#Dx'; prevalences configurable with --prevalence), calibrated against real PTB-XL
ECGs (docs/synth.md, Realism). Records go to OUT/g1, OUT/g2, ... (1,000 per folder) as
NAME.hea + NAME.mat; '#Patient: SYNP000001' names the patient. Re-running the same command resumes:
complete records are skipped. The output depends only on --seed (not on --workers).

--generator deepfake: unlabelled normal ECGs from the DeepFake-ECG GAN (trained on real 10 s ECGs;
needs pip install 'threekg[deepfake]'); records DFK000001..., empty '#Dx', one per patient; prepare
them with --label-set none. See docs/synth.md.

Example:
    threekg synth data/synthetic --n 10000 --seed 0
    threekg synth data/synth-cmsc --n 2000 --seed 1 --recordings-per-patient 4 --fs 250
    threekg synth data/synth-af --n 1000 --prevalence AF=0.3,AFL=0.1,PVC=0.1
    threekg synth data/deepfake-10k --generator deepfake --n 10000 --fs 100
"""

from __future__ import annotations

import argparse

from threekg.cli.types import positive_int

HELP = "generate synthetic 12-lead ECGs (CinC-2020-style WFDB tree)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", help="output folder (created; resumed when it already holds records)")
    parser.add_argument("--n", type=int, required=True, help="number of records")
    parser.add_argument("--seed", type=int, default=0, help="data set seed (default 0)")
    parser.add_argument("--fs", type=float, default=500.0, help="sampling rate in Hz (default 500, as CinC)")
    parser.add_argument("--seconds", type=float, default=10.0, help="record length in s (default 10)")
    parser.add_argument("--recordings-per-patient", type=int, default=1,
                        help="records per synthetic patient, each with its own noise, rate drift and "
                             "small pose change (default 1)")
    parser.add_argument("--generator", choices=("dipole", "deepfake"), default="dipole",
                        help="dipole: the labelled heart-dipole model (default); deepfake: the DeepFake-ECG "
                             "GAN, unlabelled, 10 s only (optional extra threekg[deepfake])")
    parser.add_argument("--prevalence", default=None, metavar="CLASS=P,...",
                        help="class probabilities overriding the defaults (docs/synth.md), e.g. AF=0.3,PVC=0.1; "
                             "findings are independent; the rhythms not given are scaled so rhythms sum to 1")
    parser.add_argument("--workers", type=positive_int, default=None,
                        help="processes (default: number of CPUs; deepfake: 1, using torch's threads)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from threekg.synth.challenge import write_challenge_tree
    from threekg.synth.labels import parse_prevalence, resolve_prevalence

    # checked before anything is written (a bad value is a UsageError, reported by cli.main)
    prevalence = resolve_prevalence(parse_prevalence(args.prevalence)) if args.prevalence else None
    out = write_challenge_tree(  # bad options, a tree made otherwise, a missing extra: UserErrors (cli.main)
        args.out,
        n=args.n,
        seed=args.seed,
        fs=args.fs,
        seconds=args.seconds,
        recordings_per_patient=args.recordings_per_patient,
        workers=args.workers,
        progress=not args.no_progress,
        generator=args.generator,
        prevalence=prevalence,
    )
    print(f"{args.n} records in {out}")
    return 0
