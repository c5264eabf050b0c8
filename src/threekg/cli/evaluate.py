"""Evaluate encoders on a prepared dataset: linear probes on frozen embeddings at several label fractions.

For every encoder, label fraction and seed: embeddings once (cached), a one-vs-rest L2 logistic
regression on a stratified labelled subset of the training split (strength chosen on the
validation split), macro AUROC / AUPRC on the test split with bootstrap 95% CIs, per-class and
per-subgroup AUROC, paired differences between encoders, and the CinC 2020 challenge metric when
the label set is cinc2020. Writes OUT/metrics.json, runs.csv, summary.csv, per_class.csv,
split.csv and subsets/.

Example:
    threekg evaluate --data prepared/cinc2020 --encoders runs/3kg random supervised --out eval/3kg \\
        --fractions 0.01 0.1 1 --seeds 0 1 2 --bootstrap 1000
"""

from __future__ import annotations

import argparse
from pathlib import Path

from threekg.cli.types import encoder_arch

HELP = "linear / fine-tune evaluation of encoders with label fractions, CIs and paired tests"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, type=Path, help="prepared dataset folder")
    parser.add_argument("--encoders", required=True, nargs="+", metavar="ENC",
                        help="RUN dirs, .safetensors files, NAME=PATH, 'random', 'random@K' (initialised with "
                             "seed K), 'supervised'; names NAME@K form replicate groups summarised together")
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    parser.add_argument("--fractions", nargs="+", type=float, default=[0.01, 0.1, 1.0],
                        help="label fractions of the training split (default: 0.01 0.1 1)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2], help="subset seeds (default: 0 1 2)")
    parser.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples (default: 1000; 0: none)")
    parser.add_argument("--crop-seconds", type=float, default=5.0,
                        help="crop length in s; embeddings average non-overlapping crops (default: 5, "
                             "the pretraining crop; 0: the whole record)")
    parser.add_argument("--split", choices=["fixed", "cv"], default="fixed",
                        help="fixed: one split (PTB-XL strat_fold 1-8 train / 9 val / 10 test, else patient-level "
                             "70/10/20); cv: K-fold cross-validation, every record a test record once, metrics on "
                             "the pooled out-of-fold predictions (default: fixed)")
    parser.add_argument("--cv-folds", type=int, default=10,
                        help="folds for --split cv without strat_fold (default: 10; strat_fold gives its own)")
    parser.add_argument("--finetune", action="store_true", help="fine-tune checkpoints end-to-end instead of probing")
    parser.add_argument("--arch", type=encoder_arch, default=None,
                        help="architecture of random/supervised: an encoder name (resnet18-small) or JSON with "
                             'its options, e.g. \'{"name": "resnet18-small"}\' (default: that of the first checkpoint)')
    parser.add_argument("--epochs", type=int, default=10, help="end-to-end training epochs (default: 10)")
    parser.add_argument("--lr", type=float, default=1e-3, help="end-to-end learning rate (default: 1e-3)")
    parser.add_argument("--cache-dir", type=Path, default=None, help="embedding cache (default: OUT/embeddings)")
    parser.add_argument("--device", default="cpu", help="torch device (default: cpu)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")


def run(args: argparse.Namespace) -> int:
    from threekg.evaluate import EvalOptions, evaluate
    from threekg.evaluate.finetune import FinetuneOptions
    from threekg.evaluate.runner import set_threads

    if args.threads:
        set_threads(args.threads)
    options = EvalOptions(
        fractions=tuple(args.fractions), seeds=tuple(args.seeds), n_boot=args.bootstrap,
        crop_seconds=args.crop_seconds or None, finetune=args.finetune, device=args.device,
        arch=args.arch, cache_dir=args.cache_dir,
        train=FinetuneOptions(epochs=args.epochs, lr=args.lr), split=args.split, cv_folds=args.cv_folds,
    )
    metrics = evaluate(args.data, args.encoders, args.out, options)
    for s in metrics["summary"]:
        print(f"{s['encoder']:>16s}  fraction {s['fraction']:<5g} macro AUROC {s['macro_auroc_mean']:.4f} "
              f"[{s['ci_low']:.4f}, {s['ci_high']:.4f}]  ({s['n_seeds']} seeds)")
    print(f"wrote {args.out / 'metrics.json'}")
    return 0
