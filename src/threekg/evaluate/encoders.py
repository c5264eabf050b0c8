"""What ``--encoders`` names: checkpoints, ``random``, ``supervised``, or a module given through the API.

* ``RUN`` dir or ``path.safetensors`` (optionally ``name=PATH``): a pretrained encoder; its name
  in the outputs is the run dir name (or the file stem) unless given.
* ``random``: a frozen, randomly initialised encoder of the same architecture as the first
  checkpoint (or ``arch`` when there is none), initialised with ``torch.manual_seed(seed)``.
* ``supervised``: the same architecture trained from scratch end-to-end on each labelled subset.
* ``random@K``: the random encoder initialised with seed K.

Replicates: encoders named ``NAME@K`` (``random@K``, or ``NAME@K=PATH`` for the run of NAME
pretrained with seed K) form the replicate group ``NAME``; the outputs summarise each group over
its replicates as well as each encoder alone (see :mod:`threekg.evaluate.outputs`).
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
from threekg.models.export import load_encoder_metadata

BASELINES = ("random", "supervised")


@dataclass
class EncoderSpec:
    """One encoder to evaluate. ``kind``: "checkpoint", "random", "supervised" or "module"."""

    name: str
    kind: str
    source: str = ""
    module: nn.Module | None = None
    config: dict[str, Any] = field(default_factory=dict)
    init_seed: int = 0
    normalize: str = "none"
    """The input scaling the encoder was pretrained with (``input.normalize`` of its metadata); baselines
    take that of the first checkpoint, so they see the same input."""

    @property
    def group(self) -> str:
        """The replicate group: the name up to its ``@`` (the whole name when there is none)."""
        return self.name.split("@", 1)[0]

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
        base, at, replicate = path.partition("@")
        if base in BASELINES and at:
            if base == "supervised" or not replicate.isdigit():
                raise UsageError(f"encoder {item!r}: replicates are random@K with K a whole number (the "
                                 "initialisation seed); supervised is trained once per subset seed already")
            specs.append(EncoderSpec(name or path, base, init_seed=int(replicate)))
            continue
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
        normalize = str(load_encoder_metadata(f).get("input", {}).get("normalize", "none"))
        specs.append(EncoderSpec(name or default, "checkpoint", str(p), config=load_encoder_config(f),
                                 normalize=normalize))
    first_spec = next((s for s in specs if s.kind in ("checkpoint", "module") and s.config), None)
    first = first_spec.config if first_spec is not None else None
    base_config = dict(arch) if arch else first
    for s in specs:
        if s.kind in BASELINES:
            if base_config is None:
                raise UsageError(f"encoder {s.name!r}: no checkpoint to copy the architecture from",
                                 hint='pass --arch, e.g. --arch \'{"name": "resnet18-small"}\'')
            s.config = dict(base_config)
            if first_spec is not None:
                s.normalize = first_spec.normalize
        if s.kind == "module" and s.module is not None and not s.config:
            s.config = dict(getattr(s.module, "config", {"name": type(s.module).__name__}))
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise UsageError(f"encoder names must be unique, got {names}", hint="name them with NAME=PATH")
    return specs


def instantiate(spec: EncoderSpec, seed: int | None = None) -> nn.Module:
    """A fresh module for ``spec``: loaded weights, or a random initialisation seeded with ``seed``
    (default: the spec's ``init_seed``)."""
    if spec.kind == "checkpoint":
        return load_encoder(spec.source)
    if spec.kind == "module":
        assert spec.module is not None
        return spec.module
    torch.manual_seed(spec.init_seed if seed is None else seed)
    return build_encoder_from_config(spec.config)
