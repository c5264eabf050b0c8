"""Export a trained encoder: an ONNX model and/or a folder a model hub understands.

RUN is a finished pretraining run (or an encoder .safetensors file, or a hub folder).

--onnx FILE   one self-contained ONNX file: input `ecg` (batch, 12, samples) float32 mV -> output
              `embedding` (batch, D); batch is dynamic, samples is the encoder's pretraining crop
              (or --samples). Its metadata (threekg.fs, threekg.crop_samples, threekg.leads, ...) says
              what it expects. Checked against PyTorch with onnxruntime; the largest difference is
              printed. Needs the extra: pip install 'threekg[onnx]'.
--hub DIR     config.json + model.safetensors + README.md (model card: method, pretraining data,
              steps, evaluation table, limits, data licence). Loads back with
              threekg.models.load_encoder(DIR) or, with huggingface_hub (pip install 'threekg[hub]'),
              threekg.models.hub_mixin.ThreeKGEncoder.from_pretrained(DIR). Nothing is uploaded.

Examples:
    threekg export runs/3kg --onnx 3kg.onnx
    threekg export runs/3kg --hub hub/3kg --metrics eval/metrics.json --pretrain-data data/cinc
"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "export a trained encoder to ONNX and/or a model-hub folder with a model card"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", type=Path, metavar="RUN", help="finished RUN dir, encoder .safetensors file or hub folder")
    parser.add_argument("--onnx", type=Path, metavar="FILE", help="write an ONNX model here")
    parser.add_argument("--hub", type=Path, metavar="DIR", help="write a model-hub folder here")
    parser.add_argument("--samples", type=int, default=None,
                        help="ONNX input length in samples (default: the encoder's pretraining crop)")
    parser.add_argument("--opset", type=int, default=18, help="ONNX opset (default 18)")
    parser.add_argument("--metrics", type=Path, default=None,
                        help="metrics.json (or its folder) for the model card's evaluation table "
                             "(default: RUN/metrics.json or a study's eval/metrics.json when it evaluated RUN)")
    parser.add_argument("--pretrain-data", type=Path, default=None,
                        help="the prepared dataset RUN was pretrained on, described on the card (runs do not record it)")
    parser.add_argument("--data-licence", default=None,
                        help="licence of the pretraining data for the card (default: from the dataset's source)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing ONNX file or hub folder")


def run(args: argparse.Namespace) -> int:
    from threekg.errors import UsageError

    if args.onnx is None and args.hub is None:
        raise UsageError("nothing to do", hint="give --onnx FILE and/or --hub DIR")
    from threekg.export import export_hub, export_onnx
    from threekg.models.source import open_encoder_source

    source = open_encoder_source(args.run)
    if args.onnx is not None:
        onnx = export_onnx(source, args.onnx, samples=args.samples, opset=args.opset, overwrite=args.overwrite)
        check = "not checked (onnxruntime is not installed)" if onnx.max_abs_diff is None else \
            f"max abs difference from PyTorch {onnx.max_abs_diff:.2e} (onnxruntime, batches of {onnx.checked_batches})"
        print(f"wrote {onnx.path}: input ecg (batch, 12, {onnx.samples}) -> embedding (batch, {onnx.embed_dim}); "
              f"{check}")
    if args.hub is not None:
        hub = export_hub(source, args.hub, metrics=args.metrics, pretrain_data=args.pretrain_data,
                         data_licence=args.data_licence, overwrite=args.overwrite)
        table = f"evaluation table from {hub.metrics}" if hub.metrics else "no evaluation table (--metrics)"
        print(f"wrote {hub.path}/config.json, model.safetensors, README.md; {table}")
    return 0
