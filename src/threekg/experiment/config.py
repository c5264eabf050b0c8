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

Pretraining on other data than the evaluation data, several variants of one method, and several
pretraining seeds (docs/experiment.md)::

    pretrain:
      corpora:                    # named pretraining corpora (same forms as ``data``), or a combination
        synth: {synth: {n: 10000, seed: 1, fs: 100}, prepare: {fs: 100, label_set: none}}
        both: {combine: [study, synth]}      # ``study`` is the study's own ``data``
      runs:                       # named runs: a method, a corpus, option overrides, seeds
        3kg-same: {method: 3kg, set: {method.options.windows: same}}
        3kg-synth: {method: 3kg, corpus: synth}
      seeds: [0, 1, 2]            # every run and method is pretrained once per seed: NAME@0, NAME@1, ...
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
class CorpusConfig:
    """A pretraining corpus: a data section of its own, or ``combine``, the concatenation of others."""

    data: DataConfig | None = None
    combine: tuple[str, ...] = ()


@dataclass(frozen=True)
class RunConfig:
    """One named pretraining run: ``method`` on ``corpus`` (``study``: the study's data) with overrides.

    ``seeds`` None: one run with the configuration's seed, named ``name``; a list: one run per seed,
    named ``name@seed`` when there are several.
    """

    name: str
    method: str
    corpus: str = "study"
    set: dict[str, Any] = field(default_factory=dict)
    seeds: tuple[int, ...] | None = None

    def instances(self) -> list[tuple[str, int | None]]:
        """(run name, seed) of every pretraining run this entry makes."""
        if not self.seeds:
            return [(self.name, None)]
        if len(self.seeds) == 1:
            return [(self.name, self.seeds[0])]
        return [(f"{self.name}@{s}", s) for s in self.seeds]


STUDY_CORPUS = "study"
"""The name of the study's own data among the pretraining corpora."""


@dataclass(frozen=True)
class PretrainConfig:
    methods: tuple[str, ...] = ()
    preset: str = "cpu-small"
    config: Path | None = None
    set: dict[str, Any] = field(default_factory=dict)
    per_method: dict[str, dict[str, Any]] = field(default_factory=dict)
    runs: tuple[RunConfig, ...] = ()
    seeds: tuple[int, ...] | None = None
    corpora: dict[str, CorpusConfig] = field(default_factory=dict)

    def all_runs(self) -> tuple[RunConfig, ...]:
        """``methods`` (each a run of that name on the study data) followed by ``runs``."""
        listed = tuple(RunConfig(m, m, STUDY_CORPUS, dict(self.per_method.get(m, {})), self.seeds)
                       for m in self.methods)
        return listed + self.runs

    def replicate_seeds(self) -> tuple[int, ...]:
        """Seeds of the ``random`` baseline's replicates: the study's pretraining seeds when several."""
        return self.seeds if self.seeds and len(self.seeds) > 1 else ()


@dataclass(frozen=True)
class EvaluateConfig:
    encoders: tuple[str, ...] = ()
    fractions: tuple[float, ...] = (0.01, 0.1, 1.0)
    seeds: tuple[int, ...] = (0, 1, 2)
    options: dict[str, Any] = field(default_factory=dict)
    splits: tuple[str, ...] = ("fixed",)


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
_PRETRAIN = {"methods", "preset", "config", "set", "per_method", "runs", "seeds", "corpora"}
_RUN = {"method", "corpus", "set", "seeds"}
_CORPUS = _DATA | {"combine"}
_EVALUATE = {"encoders", "fractions", "seeds", "options", "splits"}
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

    data = _data_config(_mapping(raw["data"], "data", origin), "data", base_dir, origin)

    p = _mapping(raw.get("pretrain"), "pretrain", origin)
    _check_keys("pretrain", p, _PRETRAIN, origin)
    methods = tuple(str(m) for m in (p.get("methods") or ()))
    if len(set(methods)) != len(methods):
        raise ConfigError(f"{origin}: pretrain.methods lists a method twice: {list(methods)}")
    per_method = _mapping(p.get("per_method"), "pretrain.per_method", origin)
    for m in per_method:
        if m not in methods:
            raise ConfigError(f"{origin}: pretrain.per_method names {m!r}, which is not in pretrain.methods")
    seeds = _seeds(p.get("seeds"), "pretrain.seeds", origin)
    corpora = _corpora(_mapping(p.get("corpora"), "pretrain.corpora", origin), base_dir, origin)
    runs = _runs(_mapping(p.get("runs"), "pretrain.runs", origin), seeds, corpora, origin)
    names = [*methods, *(r.name for r in runs)]
    if len(set(names)) != len(names):
        raise ConfigError(f"{origin}: pretrain.methods and pretrain.runs name a run twice: {names}")
    for n in names:
        if not n or any(c in n for c in "@=/\\") or n in ("random", "supervised", STUDY_CORPUS):
            raise ConfigError(f"{origin}: run name {n!r} must be non-empty, without '@', '=', '/', and not "
                              "'random', 'supervised' or 'study'")
    pretrain = PretrainConfig(
        methods=methods,
        preset=str(p.get("preset", "cpu-small")),
        config=_resolve(p["config"], base_dir) if p.get("config") else None,
        set=_mapping(p.get("set"), "pretrain.set", origin),
        per_method={k: _mapping(v, f"pretrain.per_method.{k}", origin) for k, v in per_method.items()},
        runs=runs,
        seeds=seeds,
        corpora=corpora,
    )

    e = _mapping(raw.get("evaluate"), "evaluate", origin)
    _check_keys("evaluate", e, _EVALUATE, origin)
    encoders = tuple(str(x) for x in (e.get("encoders") or (*names, "random")))
    for enc in encoders:
        if enc not in names and enc not in ("random", "supervised") and "=" not in enc:
            raise ConfigError(
                f"{origin}: evaluate.encoders names {enc!r}: use a run from pretrain.methods or pretrain.runs, "
                "'random', 'supervised', or NAME=PATH for an encoder trained elsewhere"
            )
    try:
        fractions = tuple(float(f) for f in e.get("fractions", (0.01, 0.1, 1.0)))
        seeds = tuple(int(s) for s in e.get("seeds", (0, 1, 2)))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{origin}: evaluate.fractions/seeds must be lists of numbers ({exc})") from None
    if not fractions or any(not 0 < f <= 1 for f in fractions):
        raise ConfigError(f"{origin}: evaluate.fractions must be in (0, 1], got {list(fractions)}")
    splits = tuple(str(x) for x in (e.get("splits") or ("fixed",)))
    if any(x not in ("fixed", "cv") for x in splits) or len(set(splits)) != len(splits):
        raise ConfigError(f"{origin}: evaluate.splits must list 'fixed' and/or 'cv' once each, got {list(splits)}")
    options = _mapping(e.get("options"), "evaluate.options", origin)
    if "split" in options:
        raise ConfigError(f"{origin}: evaluate.options.split: use evaluate.splits: [fixed, cv] instead")
    evaluate = EvaluateConfig(
        encoders=encoders,
        fractions=fractions,
        seeds=seeds,
        options=options,
        splits=splits,
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


def _data_config(d: dict[str, Any], where: str, base_dir: Path, origin: str) -> DataConfig:
    _check_keys(where, d, _DATA, origin)
    n_sources = sum(k in d for k in ("synth", "source", "prepared"))
    if n_sources != 1:
        raise ConfigError(f"{origin}: {where} needs exactly one of synth, source, prepared (got {n_sources})")
    return DataConfig(
        synth=_mapping(d["synth"], f"{where}.synth", origin) if "synth" in d else None,
        source=_resolve(d["source"], base_dir) if "source" in d else None,
        prepared=_resolve(d["prepared"], base_dir) if "prepared" in d else None,
        prepare=_mapping(d.get("prepare"), f"{where}.prepare", origin),
    )


def _seeds(value: Any, where: str, origin: str) -> tuple[int, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list | tuple) or not value or not all(isinstance(v, int) for v in value):
        raise ConfigError(f"{origin}: {where} must be a non-empty list of whole numbers, got {value!r}")
    if len(set(value)) != len(value):
        raise ConfigError(f"{origin}: {where} lists a seed twice: {list(value)}")
    return tuple(int(v) for v in value)


def _corpora(raw: dict[str, Any], base_dir: Path, origin: str) -> dict[str, CorpusConfig]:
    corpora: dict[str, CorpusConfig] = {}
    for name, value in raw.items():
        where = f"pretrain.corpora.{name}"
        if name == STUDY_CORPUS or not name or any(c in str(name) for c in "@=/\\"):
            raise ConfigError(f"{origin}: {where}: a corpus name must be non-empty, without '@', '=', '/', and "
                              f"not {STUDY_CORPUS!r} (the study's own data)")
        c = _mapping(value, where, origin)
        _check_keys(where, c, _CORPUS, origin)
        if "combine" in c:
            if set(c) != {"combine"}:
                raise ConfigError(f"{origin}: {where}: combine stands alone (no synth/source/prepared/prepare)")
            parts = c["combine"]
            if not isinstance(parts, list) or len(parts) < 2:
                raise ConfigError(f"{origin}: {where}.combine must list at least two corpora")
            corpora[str(name)] = CorpusConfig(combine=tuple(str(x) for x in parts))
        else:
            corpora[str(name)] = CorpusConfig(data=_data_config(c, where, base_dir, origin))
    for name, corpus in corpora.items():
        for part in corpus.combine:
            if part != STUDY_CORPUS and (part not in corpora or corpora[part].combine):
                raise ConfigError(f"{origin}: pretrain.corpora.{name}.combine names {part!r}: use 'study' or a "
                                  "corpus defined with synth/source/prepared (not another combination)")
    return corpora


def _runs(raw: dict[str, Any], seeds: tuple[int, ...] | None, corpora: dict[str, CorpusConfig],
          origin: str) -> tuple[RunConfig, ...]:
    runs = []
    for name, value in raw.items():
        where = f"pretrain.runs.{name}"
        r = _mapping(value, where, origin)
        _check_keys(where, r, _RUN, origin)
        if "method" not in r:
            raise ConfigError(f"{origin}: {where} needs a method")
        corpus = str(r.get("corpus", STUDY_CORPUS))
        if corpus != STUDY_CORPUS and corpus not in corpora:
            raise ConfigError(f"{origin}: {where}.corpus names {corpus!r}, which is not 'study' nor in "
                              f"pretrain.corpora ({sorted(corpora)})")
        run_seeds = _seeds(r["seeds"], f"{where}.seeds", origin) if "seeds" in r else seeds
        runs.append(RunConfig(str(name), str(r["method"]), corpus, _mapping(r.get("set"), f"{where}.set", origin),
                              run_seeds))
    return tuple(runs)


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
