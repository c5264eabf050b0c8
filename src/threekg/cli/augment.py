"""Draw one ECG and two 3KG views on one page, with the heart-vector loops before and after.

SRC is a prepared dataset folder (``threekg prepare``; pick the ECG with --index) or one WFDB record
(path to the ``.hea`` or its base name). Each view is the spatial transform (random rotation and scaling
of the VCG, drawn with --seed) followed by the time mask; the loops show the unmasked spatial views.

Example:

    threekg augment ../shared/data/ptbxl-500/records500/00000/00001_hr --out views.png --seed 0
    threekg augment data/ptbxl --index 12 --out views.png --angle 30 --scale 1.2 --residual
"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "draw an ECG and two 3KG views (plus VCG loops) to a PNG"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "src", type=Path, help="prepared dataset folder or one WFDB record (.hea or base name)"
    )
    parser.add_argument("--index", type=int, default=0, help="record index in a prepared dataset (default 0)")
    parser.add_argument("--out", type=Path, required=True, help="output PNG file")
    parser.add_argument("--seed", type=int, default=0, help="random seed for the two views (default 0)")
    parser.add_argument(
        "--angle", type=float, default=45.0, help="max rotation per axis, degrees (default 45)"
    )
    parser.add_argument("--scale", type=float, default=1.5, help="max scale per axis (default 1.5)")
    parser.add_argument("--scale-low", type=float, default=1.0, help="min scale per axis (default 1.0)")
    parser.add_argument(
        "--mask-ratio", type=float, default=0.5, help="time-mask ratio per lead (default 0.5)"
    )
    parser.add_argument("--residual", action="store_true", help="keep the non-dipolar remainder")
    parser.add_argument(
        "--matrix", choices=("inverse_dower", "kors"), default="inverse_dower", help="ECG-to-VCG matrix"
    )


def run(args: argparse.Namespace) -> int:
    from threekg.augment.views import draw_threekg_views

    out = draw_threekg_views(
        args.src,
        args.out,
        index=args.index,
        seed=args.seed,
        angle=args.angle,
        scale=args.scale,
        scale_low=args.scale_low,
        mask_ratio=args.mask_ratio,
        residual=args.residual,
        matrix=args.matrix,
    )
    print(f"wrote {out}")
    return 0
