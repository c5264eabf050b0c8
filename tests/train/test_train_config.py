"""Configuration merging: defaults <- preset <- file <- overrides; errors name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from threekg.train.config import ConfigError, list_presets, load_defaults, parse_override, resolve_config


def test_presets_exist_and_order_of_precedence(tmp_path: Path) -> None:
    assert {"cpu-small", "paper"} <= set(list_presets())
    assert resolve_config("paper")["encoder"]["name"] == "resnet18"
    assert resolve_config("cpu-small")["data"]["fs"] == 100
    user = tmp_path / "user.yaml"
    user.write_text("data:\n  batch_size: 32\noptim:\n  lr: 1.0e-3\n")
    config = resolve_config("cpu-small", user, ["optim.lr=5e-4", ("data.crop_seconds", 1.5)])
    assert config["data"]["batch_size"] == 32  # file beats preset (64)
    assert config["optim"]["lr"] == 5e-4  # override beats file; "5e-4" (YAML 1.1 string) becomes a float
    assert config["data"]["crop_seconds"] == 1.5
    assert config["data"]["fs"] == 100  # untouched preset value
    assert set(config) == set(load_defaults())


def test_override_values_are_yaml_never_eval() -> None:
    assert parse_override("a.b=2") == {"a": {"b": 2}}
    assert parse_override("a=null") == {"a": None}
    assert parse_override("a={x: 1}") == {"a": {"x": 1}}
    assert parse_override("a=__import__('os')") == {"a": "__import__('os')"}
    with pytest.raises(ConfigError, match="not valid YAML"):
        parse_override("a=!!python/object/apply:os.system ['true']")
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_override("novalue")


@pytest.mark.parametrize(("override", "key"), [
    ("optim.lrr=1", r"optim\.lrr"), ("nope=1", "'nope'"), ("data.batch_size=0", r"data\.batch_size"),
    ("trainer.precision=64", r"trainer\.precision"), ("head.kind=deep", r"head\.kind"),
    ("trainer.devices=-1", r"trainer\.devices"), ("optim.lr=fast", r"optim\.lr"),
    ("data=3", "'data' is a section"), ("trainer.compile=maybe", r"trainer\.compile"),
    ("trainer.divergence.factor=1", r"trainer\.divergence\.factor.*above 1"),
    ("trainer.divergence.patience=0", r"trainer\.divergence\.patience"),
])
def test_bad_options_raise_naming_the_key(override: str, key: str) -> None:
    with pytest.raises(ConfigError, match=key):
        resolve_config("cpu-small", overrides=[override])


def test_free_form_option_maps_pass_through_and_unknown_preset(tmp_path: Path) -> None:
    config = resolve_config(None, overrides=["encoder.options={width: 8}", "method.options.patient_positives=true"])
    assert config["encoder"]["options"] == {"width": 8}
    assert config["method"]["options"] == {"patient_positives": True}
    with pytest.raises(ConfigError, match=r"unknown preset 'gpu'.*cpu-small"):
        resolve_config("gpu")
    bad = tmp_path / "bad.yaml"
    bad.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: expected a mapping"):
        resolve_config(None, bad)


def test_the_divergence_guard_can_be_turned_off() -> None:
    assert resolve_config("cpu-small", overrides=["trainer.divergence=null"])["trainer"]["divergence"] is None
    assert resolve_config("cpu-small")["trainer"]["divergence"]["patience"] == 20
