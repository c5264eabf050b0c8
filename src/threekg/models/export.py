"""Save and load an encoder alone, as safetensors with its config in the header (no pickle).

Header metadata (all strings, as safetensors requires):
``threekg_config`` (JSON of ``encoder.config``), ``threekg_version``, ``threekg_metadata``
(JSON of the caller's dict), ``format = "pt"``.
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

from threekg import __version__
from threekg.errors import DataError
from threekg.models.hub import is_hub_folder, load_hub_encoder, read_hub_config
from threekg.models.registry import build_encoder_from_config

ENCODER_FILENAME = "encoder.safetensors"
CONFIG_KEY = "threekg_config"
VERSION_KEY = "threekg_version"
METADATA_KEY = "threekg_metadata"


def _resolve(path_or_run_dir: str | os.PathLike[str]) -> Path:
    path = Path(path_or_run_dir)
    if path.is_dir():
        path = path / ENCODER_FILENAME
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such encoder file")
    return path


def _is_hub(path: str | os.PathLike[str]) -> bool:
    """A hub folder that is not a run dir (a run's own encoder.safetensors wins)."""
    return is_hub_folder(path) and not (Path(path) / ENCODER_FILENAME).is_file()


def save_encoder(
    encoder: nn.Module, path: str | os.PathLike[str], metadata: dict[str, Any] | None = None
) -> Path:
    """Write ``encoder.state_dict()`` (buffers included) and its ``config`` to a safetensors file.

    The file is written to a temporary name and renamed, so a crash never leaves half a file.
    Raises ValueError when the encoder has no ``config`` (build it with ``build_encoder``) or
    the metadata is not JSON-serialisable. Returns the path written.
    """
    path = Path(path)
    config = getattr(encoder, "config", None)
    if not isinstance(config, dict) or "name" not in config:
        raise ValueError(
            f"cannot save {type(encoder).__name__} to {path}: it has no `config` dict with a 'name' "
            "(build it with threekg.models.build_encoder)"
        )
    try:
        header = {
            CONFIG_KEY: json.dumps(config, sort_keys=True),
            VERSION_KEY: __version__,
            METADATA_KEY: json.dumps(metadata or {}, sort_keys=True),
            "format": "pt",
        }
    except (TypeError, ValueError) as err:
        raise ValueError(f"cannot save encoder to {path}: config/metadata not JSON-serialisable: {err}") from err
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in encoder.state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata=header)
    os.replace(tmp, path)
    return path


def _header(path: Path) -> dict[str, str]:
    try:
        with safe_open(str(path), framework="pt") as f:
            return dict(f.metadata() or {})
    except Exception as err:  # safetensors raises its own error types for malformed files
        raise DataError(f"{path}: not a readable safetensors file ({err})") from err


def load_encoder_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``config`` dict stored in an encoder file (or ``RUN/encoder.safetensors``, or a hub folder)."""
    if _is_hub(path):
        return dict(read_hub_config(path)["encoder"])
    resolved = _resolve(path)
    header = _header(resolved)
    if CONFIG_KEY not in header:
        raise DataError(
            f"{resolved}: no '{CONFIG_KEY}' in the safetensors header; not written by "
            "threekg.models.save_encoder, so the architecture is unknown"
        )
    try:
        config = json.loads(header[CONFIG_KEY])
    except json.JSONDecodeError as err:
        raise DataError(f"{resolved}: '{CONFIG_KEY}' is not valid JSON ({err})") from err
    if not isinstance(config, dict) or "name" not in config:
        raise DataError(f"{resolved}: '{CONFIG_KEY}' must be a JSON object with a 'name', got {config!r}")
    return config


def load_encoder_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The caller's metadata dict plus ``threekg_version`` stored in an encoder file.

    For a hub folder (``threekg.models.hub``): its ``metadata`` with its ``input`` under "input".
    """
    if _is_hub(path):
        hub = read_hub_config(path)
        return {**hub["metadata"], "input": hub["input"],
                VERSION_KEY: hub["metadata"].get(VERSION_KEY)}
    resolved = _resolve(path)
    header = _header(resolved)
    meta = json.loads(header.get(METADATA_KEY, "{}"))
    meta = meta if isinstance(meta, dict) else {"metadata": meta}
    return {**meta, VERSION_KEY: header.get(VERSION_KEY)}


def load_encoder(path_or_run_dir: str | os.PathLike[str], map_location: str | torch.device = "cpu") -> nn.Module:
    """Rebuild an encoder from a safetensors file (or ``RUN/encoder.safetensors``, or a hub folder
    written by ``threekg export --hub``: ``config.json`` + ``model.safetensors``) in eval mode.

    Never unpickles anything. Raises FileNotFoundError, :class:`~threekg.errors.DataError` (a
    ValueError: not safetensors, no or bad config, weights that do not match the architecture:
    missing/unexpected keys or shapes),
    KeyError (config names an encoder that is not registered).
    """
    if _is_hub(path_or_run_dir):
        return load_hub_encoder(path_or_run_dir, map_location)
    path = _resolve(path_or_run_dir)
    config = load_encoder_config(path)
    encoder = build_encoder_from_config(config)
    device = torch.device(map_location)
    tensors: dict[str, torch.Tensor] = {}
    with safe_open(str(path), framework="pt", device=str(device)) as f:
        for key in f.keys():
            tensors[key] = f.get_tensor(key)
    try:
        encoder.load_state_dict(tensors, strict=True)
    except RuntimeError as err:
        raise DataError(f"{path}: weights do not match encoder config {config}: {err}") from err
    return encoder.to(device).eval()
