"""Embed every record of a prepared dataset with a trained encoder, for your own models.

DATA is a prepared dataset (`threekg prepare` reads CinC, PTB-XL, any WFDB folder or .npy arrays;
`--label-set none` when you have no labels). ENCODER is a finished pretraining run, an
encoder.safetensors file or a folder written by `threekg export --hub`. OUT gets:

  embeddings.npy  (N, D) float32, one row per record; numpy.load(..., mmap_mode="r")
  records.csv     the dataset's records in the same row order (a leading `row` column)
  embed.json      the encoder's identity (weights sha256, config, expected input), the dataset's
                  and the crop; written last, so its presence means the embeddings are complete

Each record is embedded as `threekg evaluate` does: non-overlapping crops (by default the length the
encoder was pretrained on), the encoder on each, the mean over crops. An encoder whose sampling rate,
leads or crop length does not fit the data is refused with the reason. Interrupted? Run the same
command again: it continues where it stopped.

Example:
    threekg prepare my_wfdb/ --out data/mine --fs 100 --label-set none
    threekg embed data/mine --encoder runs/3kg --out emb/mine
    python -c "import numpy; print(numpy.load('emb/mine/embeddings.npy').shape)"
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Literal

HELP = "embed a prepared dataset with a trained encoder -> embeddings.npy + records.csv"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", type=Path, help="prepared dataset folder (threekg prepare)")
    parser.add_argument("--encoder", required=True, type=Path, metavar="RUN_OR_FILE",
                        help="finished RUN dir, encoder .safetensors file, or hub folder (threekg export --hub)")
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    parser.add_argument("--crop-seconds", type=float, default=None,
                        help="crop length in s; the embedding is the mean over non-overlapping crops "
                             "(default: the encoder's pretraining crop, else 5; 0: the whole record)")
    parser.add_argument("--batch-size", type=int, default=64, help="records per forward pass (default 64)")
    parser.add_argument("--device", default="cpu", help="torch device (default: cpu)")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace OUT's embeddings when they come from another encoder, dataset or crop")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:

    from threekg.embed import embed_dataset
    from threekg.evaluate.runner import set_threads

    if args.threads:
        set_threads(args.threads)
    crop: float | Literal["encoder"] = "encoder" if args.crop_seconds is None else float(args.crop_seconds)
    result = embed_dataset(args.data, args.encoder, args.out, crop_seconds=crop, batch_size=args.batch_size,
                           device=args.device, progress=not args.no_progress, overwrite=args.overwrite)
    ident = result.info["identity"]
    crops = "whole records" if ident["crop_seconds"] is None else \
        f"mean of {ident['n_crops']} crops of {ident['crop_seconds']:g} s"
    print(f"{result.z.shape[0]} records x {result.z.shape[1]} dims from {ident['encoder']['source']} "
          f"(sha256 {ident['encoder']['sha256'][:12]}), {crops}")
    print(f"wrote {args.out / 'embeddings.npy'}, {args.out / 'records.csv'}, {args.out / 'embed.json'}")
    return 0
