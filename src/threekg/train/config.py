"""Pretraining configuration: defaults <- preset <- user YAML <- ``key=value`` overrides.

Every option lives in ``threekg/configs/defaults.yaml``; a preset (``configs/<name>.yaml``), a
user file and the overrides may only change keys that exist there, except under the free-form
option maps (``method.options``, ``encoder.options``, ``head.options``), which are validated by
the method / encoder / head they configure. Override values are parsed with ``yaml.safe_load``
(``lr=1e-3`` is a float, ``devices=2`` an int, ``fs=null`` None); nothing is ever ``eval``-ed.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from threekg import errors

FREE_FORM = ("method.options", "encoder.options", "head.options")
"""Dotted keys whose content is passed through to a factory rather than checked here."""


class ConfigError(errors.ConfigError):
    """An invalid configuration: the message names the offending key and where it came from."""


def _configs_dir() -> Path:
    return Path(str(resources.files("threekg") / "configs"))


def list_presets() -> list[str]:
    """Names of the shipped presets (``configs/*.yaml`` except ``defaults``)."""
    return sorted(p.stem for p in _configs_dir().glob("*.yaml") if p.stem != "defaults")


def _read_yaml(path: Path, what: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(f"{what} {path}: not valid YAML: {err}") from err
    except OSError as err:
        raise ConfigError(f"{what} {path}: cannot be read: {err}") from err
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{what} {path}: expected a mapping at the top level, got {type(data).__name__}")
    return data


def load_defaults() -> dict[str, Any]:
    """The full default configuration (every known key)."""
    return _read_yaml(_configs_dir() / "defaults.yaml", "defaults")


def load_preset(name: str) -> dict[str, Any]:
    """A shipped preset by name; ConfigError listing the presets when unknown."""
    path = _configs_dir() / f"{name}.yaml"
    if name == "defaults" or not path.is_file():
        raise ConfigError(f"unknown preset {name!r}; available presets: {list_presets()}")
    return _read_yaml(path, f"preset {name!r}")


def merge(base: Mapping[str, Any], update: Mapping[str, Any], source: str, prefix: str = "") -> dict[str, Any]:
    """``base`` updated recursively with ``update``; keys absent from ``base`` raise ConfigError.

    Under a free-form key (see ``FREE_FORM``) anything goes.
    """
    out = copy.deepcopy(dict(base))
    for key, value in update.items():
        dotted = f"{prefix}{key}"
        free = any(dotted == f or dotted.startswith(f + ".") for f in FREE_FORM) or prefix.rstrip(".") in FREE_FORM
        if key not in out and not free:
            known = ", ".join(sorted(out)) or "(none)"
            raise ConfigError(f"{source}: unknown option {dotted!r}; known keys here: {known}")
        if isinstance(out.get(key), dict) and isinstance(value, Mapping):
            if dotted in FREE_FORM:
                out[key] = {**out[key], **copy.deepcopy(dict(value))}
            else:
                out[key] = merge(out[key], value, source, prefix=f"{dotted}.")
        elif isinstance(out.get(key), dict) and not free and value is not None:
            raise ConfigError(f"{source}: option {dotted!r} is a section; give keys below it, got {value!r}")
        else:
            out[key] = copy.deepcopy(value)
    return out


def parse_override(text: str) -> dict[str, Any]:
    """``"a.b.c=value"`` -> ``{"a": {"b": {"c": yaml.safe_load(value)}}}``."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise ConfigError(f"override {text!r}: expected KEY=VALUE with a dotted key, e.g. optim.lr=1e-3")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as err:
        raise ConfigError(f"override {text!r}: value is not valid YAML: {err}") from err
    nested: dict[str, Any] = {}
    node = nested
    parts = key.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    return nested


def resolve_config(
    preset: str | None = "cpu-small",
    config_file: str | Path | None = None,
    overrides: Iterable[str | tuple[str, Any]] | Mapping[str, Any] | None = None,
    base: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Merge defaults (or ``base``) <- preset <- ``config_file`` <- ``overrides`` and validate.

    ``overrides`` is a list of ``"dotted.key=value"`` strings or ``(dotted_key, value)`` pairs,
    or a mapping ``{dotted_key: value}``; later entries win.
    """
    config = copy.deepcopy(dict(base)) if base is not None else load_defaults()
    if preset is not None:
        config = merge(config, load_preset(preset), f"preset {preset!r}")
    if config_file is not None:
        config = merge(config, _read_yaml(Path(config_file), "config file"), f"config file {config_file}")
    items: list[str | tuple[str, Any]]
    if overrides is None:
        items = []
    elif isinstance(overrides, Mapping):
        items = list(overrides.items())
    else:
        items = list(overrides)
    for item in items:
        if isinstance(item, str):
            update, source = parse_override(item), f"override {item!r}"
        else:
            key, value = item
            update = parse_override(f"{key}=")
            node = update
            parts = key.split(".")
            for part in parts[:-1]:
                node = node[part]
            node[parts[-1]] = value
            source = f"option {key}={value!r}"
        config = merge(config, update, source)
    validate(config)
    return config


_CHOICES = {
    "head.kind": ("mlp", "linear", "none"),
    "data.normalize": ("none", "minmax"),
    "optim.schedule": ("constant", "cosine"),
    "optim.implementation": ("auto", "fused", "foreach", "loop"),
    "trainer.precision": ("auto", "32", "bf16-mixed", "16-mixed"),
    "trainer.strategy": ("auto", "ddp", "ddp_spawn", "ddp_find_unused_parameters_true"),
}


def get(config: Mapping[str, Any], dotted: str) -> Any:
    """``config["a"]["b"]`` for ``"a.b"``."""
    node: Any = config
    for part in dotted.split("."):
        node = node[part]
    return node


def validate(config: dict[str, Any]) -> None:
    """Raise ConfigError naming the key for a value of the wrong type or out of range."""
    if str(get(config, "trainer.precision")) in ("32", "32-true"):
        config["trainer"]["precision"] = "32"
    for key, choices in _CHOICES.items():
        value = str(get(config, key))
        if value not in choices:
            raise ConfigError(f"option {key}={value!r} is not one of {list(choices)}")

    def positive(key: str, kind: type = int, allow_none: bool = False, allow_zero: bool = False) -> None:
        value = get(config, key)
        if value is None and allow_none:
            return
        if kind is float and isinstance(value, str):  # YAML 1.1 reads "1e-3" as a string
            try:
                value = float(value)
            except ValueError:
                pass
            else:
                parent, _, leaf = key.rpartition(".")
                (get(config, parent) if parent else config)[leaf] = value
        ok_type = isinstance(value, kind) or (kind is float and isinstance(value, int))
        if isinstance(value, bool) or not ok_type or not 0 <= value < math.inf or (value == 0 and not allow_zero):
            raise ConfigError(f"option {key}={value!r}: expected a positive {kind.__name__}")

    positive("seed", allow_zero=True)
    positive("data.batch_size")
    positive("data.crop_seconds", float)
    positive("data.fs", float, allow_none=True)
    positive("data.num_workers", allow_zero=True)
    positive("loss.temperature", float)
    positive("optim.lr", float)
    positive("optim.weight_decay", float, allow_zero=True)
    positive("optim.warmup_steps", allow_zero=True)
    positive("optim.min_lr_ratio", float, allow_zero=True)
    positive("trainer.max_steps")
    positive("trainer.epochs", allow_none=True)
    positive("trainer.accumulate")
    positive("trainer.num_nodes")
    positive("trainer.checkpoint_every_n_steps")
    positive("trainer.log_every_n_steps")
    positive("debug.nan_at_step", allow_none=True)
    positive("trainer.threads", allow_none=True)
    if get(config, "trainer.divergence") is not None:
        for key in ("patience", "window"):
            positive(f"trainer.divergence.{key}")
        positive("trainer.divergence.margin", float, allow_zero=True)
        positive("trainer.divergence.factor", float)
        if get(config, "trainer.divergence.factor") <= 1:
            raise ConfigError(f"option trainer.divergence.factor={get(config, 'trainer.divergence.factor')!r}: "
                              "expected a number above 1")
    devices = get(config, "trainer.devices")
    if devices != "auto" and (isinstance(devices, bool) or not isinstance(devices, int) or devices < 1):
        raise ConfigError(f"option trainer.devices={devices!r}: expected a positive int or 'auto'")
    for key in ("method.name", "encoder.name"):
        if not isinstance(get(config, key), str):
            raise ConfigError(f"option {key}={get(config, key)!r}: expected a name (string)")
    for key in FREE_FORM:
        if not isinstance(get(config, key), dict):
            raise ConfigError(f"option {key}={get(config, key)!r}: expected a mapping of options")
    for key in ("trainer.compile", "trainer.sync_batchnorm", "trainer.deterministic", "trainer.progress_bar"):
        if not isinstance(get(config, key), bool):
            raise ConfigError(f"option {key}={get(config, key)!r}: expected true or false")
    if get(config, "data.pin_memory") not in ("auto", True, False):
        raise ConfigError(f"option data.pin_memory={get(config, 'data.pin_memory')!r}: expected auto, true or false")
    betas = get(config, "optim.betas")
    if not (isinstance(betas, list) and len(betas) == 2 and all(isinstance(b, int | float) for b in betas)):
        raise ConfigError(f"option optim.betas={betas!r}: expected two numbers, e.g. [0.9, 0.999]")


def dump_config(config: Mapping[str, Any], path: Path) -> None:
    """Write the resolved configuration as YAML (atomically: temp file + rename)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(yaml.safe_dump(dict(config), sort_keys=False))
    tmp.replace(path)


def read_config(path: Path) -> dict[str, Any]:
    """A saved ``RUN/config.yaml``."""
    return _read_yaml(path, "run config")
