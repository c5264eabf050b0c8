"""What ``--encoders`` names: checkpoints, ``random``, ``supervised``, or a module given through the API.

* ``RUN`` dir or ``path.safetensors`` (optionally ``name=PATH``): a pretrained encoder; its name
  in the outputs is the run dir name (or the file stem) unless given.
* ``random``: a frozen, randomly initialised encoder of the same architecture as the first
  checkpoint (or ``arch`` when there is none), initialised with ``torch.manual_seed(seed)``.
* ``supervised``: the same architecture trained from scratch end-to-end on each labelled subset.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from threekg.errors import DataError, InputError, UsageError
from threekg.models import ENCODER_FILENAME, build_encoder_from_config, load_encoder, load_encoder_config

BASELINES = ("random", "supervised")


@dataclass
class EncoderSpec:
    """One encoder to evaluate. ``kind``: "checkpoint", "random", "supervised" or "module"."""

    name: str
    kind: str
    source: str = ""
    module: nn.Module | None = None
    config: dict[str, Any] = field(default_factory=dict)

    def file(self) -> Path:
        """The encoder's safetensors file (checkpoints only)."""
        p = Path(self.source)
        return p / ENCODER_FILENAME if p.is_dir() else p


def parse_encoders(items: Sequence[str | EncoderSpec], arch: Mapping[str, Any] | None = None) -> list[EncoderSpec]:
    """Resolve command-line encoder items to specs; the architecture of baselines is filled in.

    Raises :class:`~threekg.errors.UsageError` for duplicate names or a baseline without an
    architecture, :class:`~threekg.errors.InputError` for a missing file and
    :class:`~threekg.errors.DataError` for an unfinished run.
    """
    specs: list[EncoderSpec] = []
    for item in items:
        if isinstance(item, EncoderSpec):
            specs.append(item)
            continue
        name, _, path = item.partition("=") if "=" in item else ("", "", item)
        if path in BASELINES:
            specs.append(EncoderSpec(name or path, path))
            continue
        p = Path(path)
        if p.is_dir() and ((p / "config.yaml").exists() or (p / "checkpoints").is_dir()) and not (p / "DONE").exists():
            raise DataError(f"encoder {item!r}: {p} is a pretraining run that did not finish (no DONE); "
                            "resume it with `threekg pretrain ... --resume` or pass its encoder file explicitly")
        f = p / ENCODER_FILENAME if p.is_dir() else p
        if not f.is_file():
            raise InputError(f"encoder {item!r}: {f} does not exist (expected a RUN dir with "
                             f"{ENCODER_FILENAME}, a .safetensors file, 'random' or 'supervised')")
        default = p.name if p.is_dir() else p.stem
        specs.append(EncoderSpec(name or default, "checkpoint", str(p), config=load_encoder_config(f)))
    first = next((s.config for s in specs if s.kind in ("checkpoint", "module") and s.config), None)
    base_config = dict(arch) if arch else first
    for s in specs:
        if s.kind in BASELINES:
            if base_config is None:
                raise UsageError(f"encoder {s.name!r}: no checkpoint to copy the architecture from",
                                 hint='pass --arch, e.g. --arch \'{"name": "resnet18-small"}\'')
            s.config = dict(base_config)
        if s.kind == "module" and s.module is not None and not s.config:
            s.config = dict(getattr(s.module, "config", {"name": type(s.module).__name__}))
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise UsageError(f"encoder names must be unique, got {names}", hint="name them with NAME=PATH")
    return specs


def instantiate(spec: EncoderSpec, seed: int = 0) -> nn.Module:
    """A fresh module for ``spec``: loaded weights, or a seeded random initialisation."""
    if spec.kind == "checkpoint":
        return load_encoder(spec.source)
    if spec.kind == "module":
        assert spec.module is not None
        return spec.module
    torch.manual_seed(seed)
    return build_encoder_from_config(spec.config)
