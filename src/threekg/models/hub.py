"""A model-hub folder: ``config.json`` + ``model.safetensors``, the layout huggingface_hub reads.

``DIR/config.json``::

    {"encoder":  {"name": "resnet18-small", ...options},         # rebuilds the architecture
     "input":    {"fs": 100, "crop_samples": 250, "leads": [...], "units": "mV", "normalize": "none"},
     "metadata": {"method": "3kg", "global_step": 3000, "threekg_version": "0.1.0", ...}}

``DIR/model.safetensors``: the encoder's ``state_dict()`` with every key under the prefix
``encoder.`` and the header ``{"format": "pt"}``. That is exactly what
``threekg.models.hub_mixin.ThreeKGEncoder.save_pretrained`` (huggingface_hub's
``PyTorchModelHubMixin``) writes and ``from_pretrained`` reads, since that class keeps the encoder
as its ``encoder`` attribute and takes ``encoder``, ``input`` and ``metadata`` as its arguments.
This module needs no huggingface_hub: :func:`threekg.models.load_encoder` reads such a folder
through :func:`load_hub_encoder`, and ``threekg export --hub`` writes it with :func:`write_hub_folder`.
Nothing is unpickled.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from threekg.errors import DataError
from threekg.models.registry import build_encoder_from_config

HUB_CONFIG = "config.json"
HUB_WEIGHTS = "model.safetensors"
PREFIX = "encoder."


def is_hub_folder(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` is a folder holding both ``config.json`` and ``model.safetensors``."""
    p = Path(path)
    return p.is_dir() and (p / HUB_CONFIG).is_file() and (p / HUB_WEIGHTS).is_file()


def write_hub_folder(encoder: nn.Module, out: str | os.PathLike[str], input_spec: dict[str, Any] | None = None,
                     metadata: dict[str, Any] | None = None) -> Path:
    """Write ``out/model.safetensors`` then ``out/config.json`` (each to a temporary name, renamed).

    ``encoder`` must have a ``config`` dict (built with ``threekg.models.build_encoder``).
    ``input_spec``: what the encoder expects (``fs`` Hz, ``crop_samples``, ``leads``, ``units``,
    ``normalize``); ``metadata``: provenance (method, steps, version, source sha256). Returns ``out``.
    """
    out = Path(out)
    config = getattr(encoder, "config", None)
    if not isinstance(config, dict) or "name" not in config:
        raise ValueError(f"cannot write {out}: {type(encoder).__name__} has no `config` dict with a 'name' "
                         "(build it with threekg.models.build_encoder)")
    document = {"encoder": config, "input": dict(input_spec or {}), "metadata": dict(metadata or {})}
    try:
        text = json.dumps(document, indent=2, sort_keys=True)  # as huggingface_hub writes it
    except (TypeError, ValueError) as err:
        raise ValueError(f"cannot write {out / HUB_CONFIG}: not JSON-serialisable ({err})") from err
    out.mkdir(parents=True, exist_ok=True)
    tensors = {PREFIX + k: v.detach().to("cpu").contiguous() for k, v in encoder.state_dict().items()}
    tmp = out / (HUB_WEIGHTS + ".tmp")
    save_file(tensors, str(tmp), metadata={"format": "pt"})
    os.replace(tmp, out / HUB_WEIGHTS)
    tmp = out / (HUB_CONFIG + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, out / HUB_CONFIG)
    return out


def read_hub_config(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """``config.json`` of a hub folder, checked: an ``encoder`` object with a ``name``."""
    path = Path(folder) / HUB_CONFIG
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataError(f"{path}: not a readable JSON file ({err})") from err
    encoder = document.get("encoder") if isinstance(document, dict) else None
    if not isinstance(encoder, dict) or "name" not in encoder:
        raise DataError(f"{path}: no 'encoder' object with a 'name'; not a threekg hub folder")
    for key in ("input", "metadata"):
        if not isinstance(document.get(key, {}), dict):
            raise DataError(f"{path}: '{key}' must be a JSON object")
    return {"encoder": encoder, "input": document.get("input", {}), "metadata": document.get("metadata", {})}


def load_hub_encoder(folder: str | os.PathLike[str], map_location: str | torch.device = "cpu") -> nn.Module:
    """Rebuild the encoder of a hub folder (eval mode) from its config and weights, strictly.

    Raises ValueError (bad config, weights without the ``encoder.`` prefix, or weights that do
    not match the architecture), KeyError (an encoder name that is not registered).
    """
    folder = Path(folder)
    config = read_hub_config(folder)["encoder"]
    encoder = build_encoder_from_config(config)
    device = torch.device(map_location)
    path = folder / HUB_WEIGHTS
    try:
        with safe_open(str(path), framework="pt", device=str(device)) as f:
            keys = list(f.keys())
            stray = [k for k in keys if not k.startswith(PREFIX)]
            if stray:
                raise DataError(f"{path}: weights {stray[:3]} lack the '{PREFIX}' prefix of a threekg hub folder")
            tensors = {k[len(PREFIX):]: f.get_tensor(k) for k in keys}
    except ValueError:
        raise
    except Exception as err:  # safetensors raises its own error types for malformed files
        raise DataError(f"{path}: not a readable safetensors file ({err})") from err
    try:
        encoder.load_state_dict(tensors, strict=True)
    except RuntimeError as err:
        raise DataError(f"{path}: weights do not match encoder config {config}: {err}") from err
    return encoder.to(device).eval()
