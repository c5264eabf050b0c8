"""The model-hub folder: read by load_encoder and by huggingface_hub's PyTorchModelHubMixin, offline."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from encoder_fixtures import small_encoder
from threekg.models import load_encoder, load_encoder_config, load_encoder_metadata
from threekg.models.hub import HUB_CONFIG, HUB_WEIGHTS, write_hub_folder
from threekg.models.source import open_encoder_source

INPUT = {"fs": 100.0, "crop_samples": 250, "leads": ["I"], "units": "mV", "normalize": "none"}


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """HF_HUB_OFFLINE=1 and any attempt to open a network connection fails the test."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def no_network(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)


def test_load_encoder_reads_a_hub_folder_exactly(tmp_path: Path) -> None:
    enc = small_encoder()
    folder = write_hub_folder(enc, tmp_path / "hub", INPUT, {"method": "3kg", "global_step": 5})
    loaded = load_encoder(folder)
    x = torch.randn(3, 12, 250)
    assert not loaded.training and torch.equal(loaded(x), enc(x))
    assert load_encoder_config(folder) == enc.config
    meta = load_encoder_metadata(folder)
    assert meta["method"] == "3kg" and meta["input"] == INPUT
    doc = json.loads((folder / HUB_CONFIG).read_text())
    assert doc == {"encoder": enc.config, "input": INPUT, "metadata": {"method": "3kg", "global_step": 5}}
    assert all(k.startswith("encoder.") for k in load_file(folder / HUB_WEIGHTS))
    source = open_encoder_source(folder)
    assert source.kind == "hub" and source.input == INPUT and source.file == folder / HUB_WEIGHTS


def test_huggingface_mixin_loads_and_saves_the_same_folder(tmp_path: Path, offline: None) -> None:
    pytest.importorskip("huggingface_hub", reason="the optional extra threekg[hub] is not installed")
    from threekg.models.hub_mixin import ThreeKGEncoder

    enc = small_encoder()
    folder = write_hub_folder(enc, tmp_path / "hub", INPUT, {"method": "3kg"})
    model = ThreeKGEncoder.from_pretrained(folder)  # a local folder: huggingface_hub's own loading path
    x = torch.randn(2, 12, 250)
    assert not model.training and torch.equal(model(x), enc(x))
    assert model.embed_dim == enc.embed_dim and model.input_spec == INPUT
    model.save_pretrained(tmp_path / "again")
    assert (tmp_path / "again" / HUB_CONFIG).read_text() == (folder / HUB_CONFIG).read_text()
    ours, theirs = load_file(folder / HUB_WEIGHTS), load_file(tmp_path / "again" / HUB_WEIGHTS)
    assert ours.keys() == theirs.keys() and all(torch.equal(ours[k], theirs[k]) for k in ours)
    assert torch.equal(load_encoder(tmp_path / "again")(x), enc(x))


def test_mixin_loading_is_strict(tmp_path: Path, offline: None) -> None:
    pytest.importorskip("huggingface_hub", reason="the optional extra threekg[hub] is not installed")
    from threekg.models.hub_mixin import ThreeKGEncoder

    folder = write_hub_folder(small_encoder(), tmp_path / "hub", INPUT)
    tensors = load_file(folder / HUB_WEIGHTS)
    del tensors["encoder.stem.0.weight"]
    save_file(tensors, str(folder / HUB_WEIGHTS))
    with pytest.raises(RuntimeError, match=r"stem\.0\.weight"):
        ThreeKGEncoder.from_pretrained(folder)
    with pytest.raises(ValueError, match=r"model\.safetensors.*do not match"):
        load_encoder(folder)


def test_bad_hub_folders_are_one_line_errors(tmp_path: Path) -> None:
    folder = write_hub_folder(small_encoder(), tmp_path / "hub", INPUT)
    (folder / HUB_CONFIG).write_text('{"input": {}}')
    with pytest.raises(ValueError, match=r"config\.json: no 'encoder' object"):
        load_encoder(folder)
    (folder / HUB_CONFIG).write_text("not json")
    with pytest.raises(ValueError, match=r"config\.json: not a readable JSON"):
        open_encoder_source(folder)
    folder2 = write_hub_folder(small_encoder(), tmp_path / "hub2", INPUT)
    save_file({"stem.0.weight": torch.zeros(1)}, str(folder2 / HUB_WEIGHTS))
    with pytest.raises(ValueError, match=r"lack the 'encoder\.' prefix"):
        load_encoder(folder2)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="neither a pretraining run"):
        open_encoder_source(tmp_path / "empty")
