from __future__ import annotations

from pathlib import Path

import pytest

from threekg.experiment import SHIPPED_STUDIES, ConfigError, load_config, parse_config, study_path


def _minimal() -> dict:
    return {"name": "s", "data": {"prepared": "data"}, "pretrain": {"methods": ["3kg"]}}


def test_every_shipped_study_parses() -> None:
    assert {"demo", "paper", "cpu-study", "ptbxl-500"} <= set(SHIPPED_STUDIES)
    for name in SHIPPED_STUDIES:
        cfg = load_config(study_path(name), base_dir=Path.cwd())
        assert cfg.name == name
        assert cfg.evaluate.encoders


def test_relative_paths_resolve_against_the_base(tmp_path: Path) -> None:
    cfg = parse_config(_minimal(), tmp_path)
    assert cfg.data.prepared == tmp_path / "data"
    assert cfg.evaluate.encoders == ("3kg", "random")  # default: every method plus random


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"bogus": 1}, "unknown key"),
        ({"data": {"prepared": "d", "synth": {}}}, "exactly one of"),
        ({"pretrain": {"methods": ["3kg", "3kg"]}}, "twice"),
        ({"evaluate": {"encoders": ["nope"]}}, "names 'nope'"),
        ({"evaluate": {"fractions": [0, 0.5]}}, "must be in"),
        ({"pretrain": {"methods": ["3kg"], "per_method": {"simclr": {}}}}, "not in pretrain.methods"),
    ],
)
def test_invalid_configs_name_the_problem(tmp_path: Path, patch: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config({**_minimal(), **patch}, tmp_path, origin="study.yaml")


def test_yaml_is_data_not_code(tmp_path: Path) -> None:
    bad = tmp_path / "s.yaml"
    bad.write_text("name: !!python/object/apply:os.system ['echo pwned']\ndata: {prepared: d}\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)


def test_source_override_replaces_the_data_source(tmp_path: Path) -> None:
    cfg = load_config(study_path("paper"), base_dir=tmp_path, source=tmp_path / "raw")
    assert cfg.data.source == tmp_path / "raw" and cfg.data.synth is None


def test_a_synthetic_corpus_of_an_older_dipole_model_is_not_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The synth step's fingerprint carries the dipole model's revision (not the DeepFake one's)."""
    from threekg.experiment.plan import build_plan
    from threekg.synth import challenge

    def synth_fingerprint() -> str:
        cfg = load_config(study_path("demo"), out=tmp_path, base_dir=Path.cwd())
        return next(s for s in build_plan(cfg) if s.kind == "synth").fingerprint()

    before = synth_fingerprint()
    monkeypatch.setattr(challenge, "DIPOLE_REVISION", challenge.DIPOLE_REVISION + 1)
    assert synth_fingerprint() != before
