"""Encoder registry: names -> factories, and `build_encoder` that records a rebuildable config.

An encoder is any ``torch.nn.Module`` mapping ``(batch, 12, samples)`` float (mV) to
``(batch, embed_dim)`` with an integer attribute ``embed_dim``. Factories are registered
under a name with :func:`register_encoder`; :func:`build_encoder` calls the factory with the
options and attaches ``encoder.config = {"name": name, **options}`` (JSON-compatible), the dict
that :func:`build_encoder_from_config` and :func:`threekg.models.load_encoder` use to rebuild it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from torch import nn

from threekg.errors import UsageError

EncoderFactory = Callable[..., nn.Module]
F = TypeVar("F", bound=EncoderFactory)

ENCODERS: dict[str, EncoderFactory] = {}
"""Registered encoder factories by name (``resnet18``, ``resnet18-small``, ``resnet34``, ...)."""


def register_encoder(name: str) -> Callable[[F], F]:
    """Decorator registering ``factory(**options) -> nn.Module`` under ``name``.

    The module it returns must have ``embed_dim: int`` and map ``(batch, in_channels, samples)``
    to ``(batch, embed_dim)``. Options must be JSON-compatible (numbers, strings, bools,
    lists, dicts) so that the config can be stored in a safetensors header.

    Raises ValueError when the name is already taken (re-registering would silently change
    what saved encoders rebuild into).
    """

    def decorator(factory: F) -> F:
        if not isinstance(name, str) or not name:
            raise ValueError(f"encoder name must be a non-empty string, got {name!r}")
        if name in ENCODERS and ENCODERS[name] is not factory:
            raise ValueError(f"encoder {name!r} is already registered (by {ENCODERS[name]!r})")
        ENCODERS[name] = factory
        return factory

    return decorator


def _jsonable(value: Any) -> Any:
    """Tuples -> lists, recursively, so that the config survives a JSON round trip unchanged."""
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


class UnknownEncoderError(UsageError, KeyError):
    """An encoder name that is not registered (a KeyError, as a failed registry lookup always was)."""


def build_encoder(name: str = "resnet18", **options: Any) -> nn.Module:
    """Build a registered encoder: ``(batch, 12, samples)`` -> ``(batch, embed_dim)``.

    ``encoder.config`` is set to ``{"name": name, **options}`` (tuples stored as lists), which
    rebuilds the same architecture via :func:`build_encoder_from_config`.

    Raises :class:`UnknownEncoderError` (a KeyError and a user error) for an unknown name (listing the
    registered ones), TypeError for an
    unknown option, ValueError when the options are not JSON-serialisable or the factory
    returns a module without an integer ``embed_dim``.
    """
    if name not in ENCODERS:
        raise UnknownEncoderError(f"unknown encoder {name!r}; registered encoders: {sorted(ENCODERS)}")
    config = {"name": name, **_jsonable(options)}
    try:
        json.dumps(config)
    except (TypeError, ValueError) as err:
        raise ValueError(f"encoder options must be JSON-serialisable, got {options!r}: {err}") from err
    encoder = ENCODERS[name](**options)
    embed_dim = getattr(encoder, "embed_dim", None)
    if not isinstance(embed_dim, int) or isinstance(embed_dim, bool) or embed_dim <= 0:
        raise ValueError(
            f"encoder factory {name!r} returned {type(encoder).__name__} without a positive int "
            f"attribute embed_dim (got {embed_dim!r})"
        )
    setattr(encoder, "config", config)  # noqa: B010 (nn.Module.__setattr__ types attributes as Tensor/Module)
    return encoder


def build_encoder_from_config(config: Mapping[str, Any]) -> nn.Module:
    """Rebuild an encoder from its ``config`` dict (``{"name": ..., **options}``)."""
    if not isinstance(config, Mapping) or "name" not in config:
        raise ValueError(f"encoder config must be a dict with a 'name' key, got {config!r}")
    options = {k: v for k, v in config.items() if k != "name"}
    return build_encoder(str(config["name"]), **options)
