"""Where a trained encoder comes from, and what identifies it: ``RUN`` dir, ``.safetensors`` file or hub folder.

:func:`open_encoder_source` resolves what a user names on the command line (``--encoder``) to an
:class:`EncoderSource`: the weight file, its sha256 (the identity ``evaluate`` keys its embedding
cache on), the architecture config, and the metadata the run recorded, including ``input``: the
sampling rate (Hz), crop length (samples), lead order, units and normalisation the encoder was
pretrained on. An encoder saved without that metadata has ``input == {}``: nothing to check against.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from threekg.errors import DataError, InputError
from threekg.hashing import file_sha256
from threekg.models.export import ENCODER_FILENAME, load_encoder, load_encoder_config, load_encoder_metadata
from threekg.models.hub import HUB_WEIGHTS, is_hub_folder


@dataclass(frozen=True)
class EncoderSource:
    """A trained encoder on disk. ``kind``: "run", "file" or "hub"; ``file``: its weights."""

    path: Path
    kind: str
    file: Path
    sha256: str
    config: dict[str, Any]
    metadata: dict[str, Any]

    @property
    def name(self) -> str:
        """The run or folder name, or the file stem."""
        return self.path.stem if self.kind == "file" else self.path.name

    @property
    def input(self) -> dict[str, Any]:
        """``fs``, ``crop_samples``, ``leads``, ``units``, ``normalize`` when recorded, else ``{}``."""
        spec = self.metadata.get("input")
        return dict(spec) if isinstance(spec, dict) else {}

    def load(self, map_location: str | torch.device = "cpu") -> nn.Module:
        """The encoder in eval mode (weights read with safetensors; nothing unpickled)."""
        return load_encoder(self.path, map_location)

    def identity(self) -> dict[str, Any]:
        """JSON-ready: source, kind, weights file and its sha256, config, method, steps, input, version."""
        meta = self.metadata
        return {"source": str(self.path.resolve()), "kind": self.kind, "file": str(self.file.resolve()),
                "sha256": self.sha256,
                "config": self.config, "method": meta.get("method"), "global_step": meta.get("global_step"),
                "input": self.input, "threekg_version": meta.get("threekg_version")}


def open_encoder_source(path: str | os.PathLike[str]) -> EncoderSource:
    """Resolve a RUN dir (finished: ``DONE``), an ``encoder.safetensors`` file or a hub folder.

    Raises one line naming the path: :class:`~threekg.errors.InputError` when it is not found,
    :class:`~threekg.errors.DataError` (a ValueError) for a folder that is neither a run nor a hub
    folder, a pretraining run that did not finish, or a file that is not a threekg encoder.
    """
    p = Path(path)
    if p.is_dir():
        if ((p / "config.yaml").exists() or (p / "checkpoints").is_dir()) and not (p / "DONE").exists():
            raise DataError(f"{p}: a pretraining run that did not finish (no DONE); resume it with "
                            "`threekg pretrain ... --resume` or name its encoder file")
        if (p / ENCODER_FILENAME).is_file():
            kind, file = "run", p / ENCODER_FILENAME
        elif is_hub_folder(p):
            kind, file = "hub", p / HUB_WEIGHTS
        else:
            raise DataError(f"{p}: neither a pretraining run ({ENCODER_FILENAME}) nor a hub folder "
                            "(config.json + model.safetensors)")
    elif p.is_file():
        kind, file = "file", p
    else:
        raise InputError(f"{p}: no such encoder (expected a RUN dir, a .safetensors file or a hub folder)")
    try:
        config = load_encoder_config(p)
        metadata = load_encoder_metadata(p)
    except (ValueError, FileNotFoundError) as err:
        raise DataError(str(err).splitlines()[0]) from err
    return EncoderSource(p, kind, file, file_sha256(file), config, metadata)
