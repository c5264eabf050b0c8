"""A trained encoder as an ONNX model with a dynamic batch axis (``threekg export RUN --onnx``).

The graph maps input ``ecg`` ``(batch, 12, samples)`` float32 mV to output ``embedding``
``(batch, embed_dim)``, one crop per row: ``samples`` is fixed (by default the crop the encoder was
pretrained on), ``batch`` is free. The model's metadata properties say what it expects, so a user
without threekg can crop and average as ``threekg embed`` does::

    threekg.fs, threekg.crop_samples, threekg.leads (comma-separated), threekg.units, threekg.normalize,
    threekg.encoder_config (JSON), threekg.method, threekg.global_step, threekg.source_sha256, threekg.version

Exported with torch's ``torch.export``-based exporter (``dynamo=True``; needs onnx and onnxscript,
the optional extra ``threekg[onnx]``), weights inside the one file. Afterwards onnxruntime, when
installed, runs the file on random batches of two sizes and the largest absolute difference from
PyTorch is returned; above ``tolerance`` it is an error and the file is not kept.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from threekg import __version__
from threekg.errors import MissingExtraError, UsageError
from threekg.models.source import EncoderSource, open_encoder_source

log = logging.getLogger(__name__)

INPUT_NAME, OUTPUT_NAME = "ecg", "embedding"
DEFAULT_OPSET = 18
_CHATTY = ("onnxscript", "onnx_ir")


@dataclass(frozen=True)
class OnnxExport:
    """What :func:`export_onnx` wrote: ``max_abs_diff`` is None when onnxruntime is not installed."""

    path: Path
    samples: int
    embed_dim: int
    max_abs_diff: float | None
    checked_batches: tuple[int, ...]


def _require(module: str) -> None:
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise MissingExtraError(f"ONNX export needs the '{module}' package: pip install 'threekg[onnx]'")


def onnx_metadata(source: EncoderSource, samples: int) -> dict[str, str]:
    """The ``threekg.*`` metadata properties written into the ONNX model (all strings)."""
    spec, meta = source.input, source.metadata
    return {
        "threekg.fs": str(spec.get("fs", "")), "threekg.crop_samples": str(samples),
        "threekg.leads": ",".join(spec.get("leads") or []), "threekg.units": str(spec.get("units", "mV")),
        "threekg.normalize": str(spec.get("normalize", "none")),
        "threekg.encoder_config": json.dumps(source.config, sort_keys=True),
        "threekg.method": str(meta.get("method", "")), "threekg.global_step": str(meta.get("global_step", "")),
        "threekg.source_sha256": source.sha256, "threekg.version": __version__,
        "threekg.input": f"{INPUT_NAME}: (batch, {int(source.config.get('in_channels', 12))}, {samples}) float32 mV",
    }


def max_abs_difference(path: Path, encoder: torch.nn.Module, channels: int, samples: int,
                       batches: tuple[int, ...] = (3, 1), seed: int = 0) -> float:
    """Largest |onnxruntime - PyTorch| over random N(0, 0.5 mV) batches of the given sizes."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    g = torch.Generator().manual_seed(seed)
    worst = 0.0
    with torch.no_grad():
        for b in batches:
            x = torch.randn(b, channels, samples, generator=g) * 0.5
            expected = encoder(x).numpy()
            got = session.run([OUTPUT_NAME], {INPUT_NAME: x.numpy()})[0]
            if got.shape != expected.shape:
                raise ValueError(f"{path}: ONNX output {got.shape} for batch {b}, PyTorch gives {expected.shape}")
            worst = max(worst, float(np.max(np.abs(got - expected))))
    return worst


def export_onnx(encoder: str | Path | EncoderSource, out: str | Path, *, samples: int | None = None,
                opset: int = DEFAULT_OPSET, check: bool = True, tolerance: float = 1e-4,
                overwrite: bool = False) -> OnnxExport:
    """Write ``encoder`` (RUN dir, .safetensors file or hub folder) to the ONNX file ``out``.

    ``samples``: the fixed input length (default: the encoder's pretraining crop; required when the
    encoder does not record one). ``check``: compare with PyTorch through onnxruntime when it is
    installed. Raises ImportError (onnx/onnxscript missing), ValueError (no input length known, an
    existing ``out`` without ``overwrite``, or a difference above ``tolerance``).
    """
    _require("onnx")
    _require("onnxscript")
    out = Path(out)
    source = encoder if isinstance(encoder, EncoderSource) else open_encoder_source(encoder)
    if samples is None:
        samples = source.input.get("crop_samples")
        if not samples:
            raise UsageError(f"encoder {source.path} records no pretraining crop length; pass --samples N")
    samples = int(samples)
    if samples < 1:
        raise UsageError(f"samples must be >= 1, got {samples}")
    if out.exists() and not overwrite:
        raise UsageError(f"{out} exists; pass --overwrite to replace it")
    module = source.load("cpu")
    channels = int(source.config.get("in_channels", 12))
    example = torch.zeros(2, channels, samples)
    batch = torch.export.Dim("batch", min=1, max=1 << 20)
    # the exporter's chatter ("torchvision is not installed", each optimisation pass at INFO) hides our line
    quiet = {name: logging.getLogger(name) for name in (*_CHATTY, "torch.onnx._internal.exporter._registration")}
    levels = {name: logger.level for name, logger in quiet.items()}
    for name, logger in quiet.items():
        logger.setLevel(logging.ERROR if name.startswith("torch") else logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program: Any = torch.onnx.export(
                module, (example,), input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                dynamic_shapes=({0: batch},), opset_version=opset, dynamo=True, verbose=False,
                external_data=False,
            )
    finally:
        for name, logger in quiet.items():
            logger.setLevel(levels[name])
    program.model.metadata_props.update(onnx_metadata(source, samples))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    program.save(str(tmp), external_data=False)
    batches = (3, 1)
    diff: float | None = None
    try:
        if check:
            try:
                import onnxruntime  # noqa: F401
            except ImportError:
                log.warning("onnxruntime is not installed: %s was not checked against PyTorch", out)
            else:
                diff = max_abs_difference(tmp, module, channels, samples, batches)
                if diff > tolerance:
                    raise ValueError(f"{out}: ONNX output differs from PyTorch by {diff:.3g} (> {tolerance:g}); "
                                     "file not written")
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return OnnxExport(out, samples, int(getattr(module, "embed_dim")), diff,  # noqa: B009
                      batches if diff is not None else ())
