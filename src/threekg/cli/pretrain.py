"""Self-supervised pretraining of an ECG encoder on a prepared dataset.

Example (this machine, a few minutes):

    threekg pretrain data/ptbxl-100 --method 3kg --out runs/3kg --preset cpu-small --max-steps 200

Example (GPUs; 2 nodes x 4 GPUs, negatives gathered over all 8 processes):

    threekg pretrain data/cinc-500 --method 3kg --out runs/3kg-paper --preset paper \\
        --devices 4 --num-nodes 2 --strategy ddp

Methods (--method):
  3kg            two views of the 3KG augmentation (VCG rotation + scaling, then 50% time mask per lead);
                 positives: the two views of one recording (--set method.options.patient_positives=true:
                 every recording of the same patient, as in fairseq-signals)
  3kg-spatial    ablation: rotation + scaling only          3kg-temporal  ablation: time mask only
  3kg-rotation   ablation: rotation (+ mask), no scaling    3kg-scaling   ablation: scaling (+ mask), no rotation
  3kg-residual   only the dipolar part is rotated/scaled; the non-dipolar residual is kept
  3kg-kors       the Kors matrix instead of inverse Dower
  simclr         standard ECG augmentations (amplitude scale, baseline wander, noise, lead mask)
  cmsc           CLOCS: two adjacent non-overlapping segments of one recording
  pclr           two different recordings of the same patient (a warning and a fallback to two random
                 crops of the same recording when patients have a single recording)

Presets (--preset): cpu-small (resnet18-small, 100 Hz data, 2.5 s crops, batch 64, 200 steps, CPU) and
paper (resnet18, 500 Hz, 5 s crops, 1/(max-min) scaling, batch 512 per GPU, Adam 2e-4, mixed precision).
Every option (see docs/pretrain.md) can be set with --set dotted.key=value (values are YAML) or a YAML
file (--config); order: defaults < preset < --config < --set < the explicit flags below.

The run directory OUT receives config.yaml, checkpoints/ (last.ckpt, step-N.ckpt), logs/ (CSV,
TensorBoard), encoder.safetensors and DONE. Re-running a completed run does nothing; a killed run
is continued with --resume (bit-identical to an uninterrupted run on the CPU).
"""

from __future__ import annotations

import argparse
import logging

HELP = "pretrain an encoder with 3KG, its ablations, SimCLR, CMSC or PCLR"
RESUME = "re-run the same command with --resume to continue from the last checkpoint"

log = logging.getLogger(__name__)

_FLAGS = {
    "max_steps": "trainer.max_steps", "epochs": "trainer.epochs", "batch_size": "data.batch_size",
    "lr": "optim.lr", "devices": "trainer.devices", "num_nodes": "trainer.num_nodes",
    "strategy": "trainer.strategy", "accelerator": "trainer.accelerator", "precision": "trainer.precision",
    "accumulate": "trainer.accumulate", "seed": "seed",
}


def _devices(text: str) -> int | str:
    return text if text == "auto" else int(text)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``threekg pretrain``."""
    from threekg.ssl.methods import METHODS
    from threekg.train.config import list_presets

    parser.add_argument("data", help="a prepared dataset directory (threekg prepare)")
    parser.add_argument("--method", required=True, choices=sorted(METHODS), help="the pretraining method")
    parser.add_argument("--out", required=True, help="the run directory")
    parser.add_argument("--preset", default="cpu-small", choices=list_presets(), help="default: %(default)s")
    parser.add_argument("--config", help="a YAML file of options, merged after the preset")
    steps = parser.add_mutually_exclusive_group()
    steps.add_argument("--max-steps", type=int, help="optimizer steps")
    steps.add_argument("--epochs", type=int, help="passes over the data (instead of --max-steps)")
    parser.add_argument("--batch-size", type=int, help="recordings per process per step")
    parser.add_argument("--lr", type=float, help="Adam learning rate")
    parser.add_argument("--devices", type=_devices, help="processes (GPUs) per node, or auto")
    parser.add_argument("--num-nodes", type=int, help="nodes")
    parser.add_argument("--strategy", choices=["auto", "ddp", "ddp_spawn"], help="distribution strategy")
    parser.add_argument("--accelerator", help="auto, cpu, gpu, mps")
    parser.add_argument("--precision", choices=["auto", "32", "bf16-mixed", "16-mixed"])
    parser.add_argument("--accumulate", type=int, help="batches per optimizer step")
    parser.add_argument("--compile", action="store_true", default=None, help="torch.compile the encoder")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="any option, e.g. --set optim.schedule=cosine --set head.kind=none")
    parser.add_argument("--resume", action="store_true", help="continue the run in OUT from its last checkpoint")
    parser.add_argument("--overwrite", action="store_true", help="delete OUT and start again")


def run(args: argparse.Namespace) -> int:
    """Run ``threekg.train.pretrain`` with the parsed arguments (errors: see ``threekg.cli.main``)."""
    from threekg.train import pretrain

    overrides: list[str | tuple[str, object]] = list(args.overrides)
    for flag, key in _FLAGS.items():
        value = getattr(args, flag)
        if value is not None:
            overrides.append((key, value))
    if args.max_steps is not None:
        overrides.append(("trainer.epochs", None))  # --max-steps wins over epochs from a preset or file
    if args.compile:
        overrides.append(("trainer.compile", True))
    out = pretrain(args.data, args.method, args.out, preset=args.preset, overrides=overrides,
                   config_file=args.config, resume=args.resume, overwrite=args.overwrite)
    print(out)
    return 0
