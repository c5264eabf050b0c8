"""Encoder export: safetensors round trip and clear errors for files that cannot be loaded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from threekg import __version__
from threekg.models import (
    build_encoder,
    load_encoder,
    load_encoder_config,
    load_encoder_metadata,
    save_encoder,
)


def _trained_small() -> torch.nn.Module:
    torch.manual_seed(0)
    enc = build_encoder("resnet18-small", width=8, layers=[1, 1, 2, 1])
    enc.train()
    enc(torch.randn(4, 12, 64) * 2 + 0.5)  # non-default BN running statistics
    return enc.eval()


def test_round_trip_outputs_equal_exactly(tmp_path: Path) -> None:
    enc = _trained_small()
    path = save_encoder(enc, tmp_path / "enc.safetensors", metadata={"method": "3kg", "step": 10})
    loaded = load_encoder(path)
    assert not loaded.training and loaded.config == enc.config and loaded.embed_dim == enc.embed_dim
    for key, value in enc.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    x = torch.randn(3, 12, 100)
    assert torch.equal(loaded(x), enc(x))
    assert load_encoder_config(path) == enc.config
    meta = load_encoder_metadata(path)
    assert meta == {"method": "3kg", "step": 10, "threekg_version": __version__}


def test_run_dir_resolves_to_encoder_file(tmp_path: Path) -> None:
    enc = _trained_small()
    save_encoder(enc, tmp_path / "run" / "encoder.safetensors")
    loaded = load_encoder(tmp_path / "run", map_location="cpu")
    x = torch.randn(2, 12, 50)
    assert torch.equal(loaded(x), enc(x))
    assert load_encoder_config(tmp_path / "run")["name"] == "resnet18-small"


def test_missing_config_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "bare.safetensors"
    save_file(dict(build_encoder("resnet18-small").state_dict()), str(path))
    with pytest.raises(ValueError, match=r"bare\.safetensors.*threekg_config"):
        load_encoder(path)


def test_bad_configs(tmp_path: Path) -> None:
    state = {k: v.contiguous() for k, v in build_encoder("resnet18-small").state_dict().items()}
    cases = {
        "notjson": ("{width: 8", ValueError, "not valid JSON"),
        "noname": (json.dumps({"width": 8}), ValueError, "'name'"),
        "unknown": (json.dumps({"name": "nope"}), KeyError, "nope"),
        "mismatch": (json.dumps({"name": "resnet18-small", "width": 8}), ValueError, "do not match"),
    }
    for stem, (config, error, match) in cases.items():
        path = tmp_path / f"{stem}.safetensors"
        save_file(state, str(path), metadata={"threekg_config": config})
        with pytest.raises(error, match=match):
            load_encoder(path)


def test_not_safetensors_or_missing(tmp_path: Path) -> None:
    bogus = tmp_path / "enc.safetensors"
    bogus.write_text("this is not a safetensors file")
    with pytest.raises(ValueError, match="not a readable safetensors"):
        load_encoder(bogus)
    with pytest.raises(FileNotFoundError, match="no such encoder file"):
        load_encoder(tmp_path / "missing")


def test_save_requires_config_and_json_metadata(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no `config`"):
        save_encoder(torch.nn.Linear(2, 2), tmp_path / "x.safetensors")
    with pytest.raises(ValueError, match="JSON"):
        save_encoder(_trained_small(), tmp_path / "y.safetensors", metadata={"bad": object()})
    assert not list(tmp_path.iterdir())
