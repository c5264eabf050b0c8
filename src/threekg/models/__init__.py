"""Encoders ``(batch, 12, samples) -> (batch, embed_dim)``, projection heads, safetensors export.

Importing this package registers the built-in encoders (``resnet18``, ``resnet18-small``,
``resnet34``).
"""

from threekg.models import resnet1d as _resnet1d  # noqa: F401  (registers the built-in encoders)
from threekg.models.export import (
    ENCODER_FILENAME,
    load_encoder,
    load_encoder_config,
    load_encoder_metadata,
    save_encoder,
)
from threekg.models.heads import HEAD_KINDS, IdentityHead, ProjectionHead, build_head
from threekg.models.registry import (
    ENCODERS,
    UnknownEncoderError,
    build_encoder,
    build_encoder_from_config,
    register_encoder,
)
from threekg.models.resnet1d import BasicBlock1d, ResNet1d

__all__ = [
    "ENCODERS",
    "ENCODER_FILENAME",
    "HEAD_KINDS",
    "BasicBlock1d",
    "IdentityHead",
    "ProjectionHead",
    "ResNet1d",
    "UnknownEncoderError",
    "build_encoder",
    "build_encoder_from_config",
    "build_head",
    "load_encoder",
    "load_encoder_config",
    "load_encoder_metadata",
    "register_encoder",
    "save_encoder",
]
