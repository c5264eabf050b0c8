"""The study configuration: one YAML file describes data, methods, evaluation and outputs.

Parsed with ``yaml.safe_load`` (data, never code) and validated: unknown keys are errors that name the
key and the file. Relative paths are resolved against the configuration file's folder.

Example::

    name: demo
    out: demo-output              # every output of the study goes below this folder
    data:
      synth: {n: 2000, seed: 0, fs: 100, seconds: 10, recordings_per_patient: 2}
      prepare: {fs: 100, seconds: 10, label_set: cinc2020}
    pretrain:
      preset: cpu-small
      set: {trainer.max_steps: 300}
      methods: [3kg, simclr]
    evaluate:
      encoders: [3kg, simclr, random]
      fractions: [0.01, 0.1, 1.0]
      seeds: [0, 1, 2]
    report: {focus: 3kg}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from threekg import errors


class ConfigError(errors.ConfigError):
    """An invalid study configuration; the message names the file and the key."""


@dataclass(frozen=True)
class DataConfig:
    """Where the data comes from: generated (``synth``), a raw source to prepare, or a prepared dataset."""

    synth: dict[str, Any] | None = None
    source: Path | None = None
    prepared: Path | None = None
    prepare: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PretrainConfig:
    methods: tuple[str, ...] = ()
    preset: str = "cpu-small"
    config: Path | None = None
    set: dict[str, Any] = field(default_factory=dict)
    per_method: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class EvaluateConfig:
    encoders: tuple[str, ...] = ()
    fractions: tuple[float, ...] = (0.01, 0.1, 1.0)
    seeds: tuple[int, ...] = (0, 1, 2)
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StudyConfig:
    name: str
    out: Path
    data: DataConfig
    pretrain: PretrainConfig
    evaluate: EvaluateConfig
    report: dict[str, Any]
    source_file: Path | None = None


_TOP = {"name", "out", "data", "pretrain", "evaluate", "report", "description"}
_DATA = {"synth", "source", "prepared", "prepare"}
_PRETRAIN = {"methods", "preset", "config", "set", "per_method"}
_EVALUATE = {"encoders", "fractions", "seeds", "options"}
_REPORT = {"focus", "enabled"}


def _check_keys(where: str, got: dict[str, Any], allowed: set[str], origin: str) -> None:
    unknown = sorted(set(got) - allowed)
    if unknown:
        raise ConfigError(f"{origin}: unknown key(s) {unknown} in {where}; allowed: {sorted(allowed)}")


def _mapping(value: Any, where: str, origin: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{origin}: {where} must be a mapping, got {type(value).__name__}")
    return dict(value)


def _resolve(path: Any, base: Path) -> Path:
    p = Path(str(path)).expanduser()
    return p if p.is_absolute() else (base / p)


def parse_config(raw: dict[str, Any], base_dir: Path, origin: str = "<config>") -> StudyConfig:
    """Validate a study configuration already loaded as a mapping; paths resolve against ``base_dir``."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{origin}: the top level must be a mapping")
    _check_keys("the top level", raw, _TOP, origin)
    for key in ("name", "data"):
        if key not in raw:
            raise ConfigError(f"{origin}: missing required key {key!r}")

    d = _mapping(raw["data"], "data", origin)
    _check_keys("data", d, _DATA, origin)
    n_sources = sum(k in d for k in ("synth", "source", "prepared"))
    if n_sources != 1:
        raise ConfigError(f"{origin}: data needs exactly one of synth, source, prepared (got {n_sources})")
    data = DataConfig(
        synth=_mapping(d["synth"], "data.synth", origin) if "synth" in d else None,
        source=_resolve(d["source"], base_dir) if "source" in d else None,
        prepared=_resolve(d["prepared"], base_dir) if "prepared" in d else None,
        prepare=_mapping(d.get("prepare"), "data.prepare", origin),
    )

    p = _mapping(raw.get("pretrain"), "pretrain", origin)
    _check_keys("pretrain", p, _PRETRAIN, origin)
    methods = tuple(str(m) for m in (p.get("methods") or ()))
    if len(set(methods)) != len(methods):
        raise ConfigError(f"{origin}: pretrain.methods lists a method twice: {list(methods)}")
    per_method = _mapping(p.get("per_method"), "pretrain.per_method", origin)
    for m in per_method:
        if m not in methods:
            raise ConfigError(f"{origin}: pretrain.per_method names {m!r}, which is not in pretrain.methods")
    pretrain = PretrainConfig(
        methods=methods,
        preset=str(p.get("preset", "cpu-small")),
        config=_resolve(p["config"], base_dir) if p.get("config") else None,
        set=_mapping(p.get("set"), "pretrain.set", origin),
        per_method={k: _mapping(v, f"pretrain.per_method.{k}", origin) for k, v in per_method.items()},
    )

    e = _mapping(raw.get("evaluate"), "evaluate", origin)
    _check_keys("evaluate", e, _EVALUATE, origin)
    encoders = tuple(str(x) for x in (e.get("encoders") or (*methods, "random")))
    for enc in encoders:
        if enc not in methods and enc not in ("random", "supervised") and "=" not in enc:
            raise ConfigError(
                f"{origin}: evaluate.encoders names {enc!r}: use a method from pretrain.methods, "
                "'random', 'supervised', or NAME=PATH for an encoder trained elsewhere"
            )
    try:
        fractions = tuple(float(f) for f in e.get("fractions", (0.01, 0.1, 1.0)))
        seeds = tuple(int(s) for s in e.get("seeds", (0, 1, 2)))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{origin}: evaluate.fractions/seeds must be lists of numbers ({exc})") from None
    if not fractions or any(not 0 < f <= 1 for f in fractions):
        raise ConfigError(f"{origin}: evaluate.fractions must be in (0, 1], got {list(fractions)}")
    evaluate = EvaluateConfig(
        encoders=encoders,
        fractions=fractions,
        seeds=seeds,
        options=_mapping(e.get("options"), "evaluate.options", origin),
    )

    report = _mapping(raw.get("report"), "report", origin)
    _check_keys("report", report, _REPORT, origin)

    return StudyConfig(
        name=str(raw["name"]),
        out=_resolve(raw.get("out", f"outputs/{raw['name']}"), base_dir),
        data=data,
        pretrain=pretrain,
        evaluate=evaluate,
        report=report,
    )


def load_config(
    path: str | Path,
    out: str | Path | None = None,
    base_dir: Path | None = None,
    source: str | Path | None = None,
) -> StudyConfig:
    """Read and validate a study YAML file.

    Relative paths resolve against ``base_dir`` (default: the file's folder). ``out`` overrides the
    file's ``out``; ``source`` replaces the data section's source (a raw collection to prepare).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the configuration ({exc.strerror})") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from None
    base = base_dir if base_dir is not None else path.resolve().parent
    cfg = parse_config(raw, base, origin=str(path))
    if source is not None:
        data = DataConfig(source=Path(source), prepare=cfg.data.prepare)
        cfg = StudyConfig(**{**cfg.__dict__, "data": data})
    if out is not None:
        cfg = StudyConfig(**{**cfg.__dict__, "out": Path(out)})
    return StudyConfig(**{**cfg.__dict__, "source_file": path})
