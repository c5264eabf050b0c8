"""Whole studies from one YAML file: data -> pretraining -> evaluation -> report, re-running only what changed.

* :func:`load_config` / :class:`StudyConfig` - read and validate a study file.
* :func:`run_study` / :func:`run_experiment` - run every step that is not already done.
* :func:`study_path` / :data:`SHIPPED_STUDIES` - the studies that ship with threekg (``demo``, ``paper``, ...).
"""

from pathlib import Path

from threekg.experiment.config import ConfigError, StudyConfig, load_config, parse_config
from threekg.experiment.runner import StepOutcome, run_experiment, run_study

_STUDIES = Path(__file__).resolve().parent / "studies"
SHIPPED_STUDIES: tuple[str, ...] = tuple(sorted(p.stem for p in _STUDIES.glob("*.yaml")))


def study_path(name: str) -> Path:
    """The YAML file of a shipped study (see :data:`SHIPPED_STUDIES`)."""
    path = _STUDIES / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(f"no shipped study named {name!r}; choose one of {list(SHIPPED_STUDIES)} or give a file")
    return path


__all__ = [
    "SHIPPED_STUDIES",
    "ConfigError",
    "StepOutcome",
    "StudyConfig",
    "load_config",
    "parse_config",
    "run_experiment",
    "run_study",
    "study_path",
]
