"""`threekg export --onnx`: onnxruntime gives PyTorch's embeddings for any batch size.

One export (through the CLI) serves the module: torch's exporter takes several seconds.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from encoder_fixtures import make_run, save_small_encoder
from threekg.cli.main import main
from threekg.models import load_encoder

pytest.importorskip("onnx", reason="the optional extra threekg[onnx] is not installed")
pytest.importorskip("onnxscript", reason="the optional extra threekg[onnx] is not installed")
ort = pytest.importorskip("onnxruntime", reason="the optional extra threekg[onnx] is not installed")

CROP = 250


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    tmp = tmp_path_factory.mktemp("onnx")
    run = make_run(tmp / "runs" / "3kg", crop_samples=CROP)
    path = tmp / "model.onnx"
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["export", str(run), "--onnx", str(path)]) == 0
    return run, path, out.getvalue()


def test_dynamic_batch_matches_pytorch(exported: tuple[Path, Path, str]) -> None:
    run, path, printed = exported
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (inp,), (out,) = session.get_inputs(), session.get_outputs()
    assert (inp.name, out.name) == ("ecg", "embedding")
    assert isinstance(inp.shape[0], str) and inp.shape[1:] == [12, CROP] and out.shape[1:] == [64]
    encoder = load_encoder(run)
    g = torch.Generator().manual_seed(1)
    worst = 0.0
    for batch in (1, 2, 7, 33):
        x = torch.randn(batch, 12, CROP, generator=g) * 0.5
        with torch.no_grad():
            expected = encoder(x).numpy()
        got = session.run(None, {"ecg": x.numpy()})[0]
        assert got.shape == (batch, 64)
        worst = max(worst, float(np.abs(got - expected).max()))
    print(f"max abs difference onnxruntime vs PyTorch over batches 1, 2, 7, 33: {worst:.3g}")
    assert worst < 1e-4
    assert "max abs difference from PyTorch" in printed and "(batch, 12, 250)" in printed


def test_metadata_says_what_the_model_expects(exported: tuple[Path, Path, str]) -> None:
    run, path, _ = exported
    meta = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).get_modelmeta().custom_metadata_map
    assert meta["threekg.fs"] == "100.0" and meta["threekg.crop_samples"] == str(CROP)
    assert meta["threekg.leads"].split(",")[:3] == ["I", "II", "III"] and meta["threekg.units"] == "mV"
    assert json.loads(meta["threekg.encoder_config"]) == {"name": "resnet18-small", "width": 8}
    assert meta["threekg.method"] == "3kg" and meta["threekg.global_step"] == "7"
    import hashlib

    assert meta["threekg.source_sha256"] == hashlib.sha256((run / "encoder.safetensors").read_bytes()).hexdigest()


def test_other_lengths_are_refused_by_onnxruntime(exported: tuple[Path, Path, str]) -> None:
    session = ort.InferenceSession(str(exported[1]), providers=["CPUExecutionProvider"])
    with pytest.raises(Exception, match=r"dimension|Expected"):  # onnxruntime names the index, got and expected
        session.run(None, {"ecg": np.zeros((1, 12, CROP + 1), np.float32)})


def test_refusals_before_any_export(exported: tuple[Path, Path, str], tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    run, path, _ = exported
    before = path.read_bytes()
    assert main(["export", str(run), "--onnx", str(path)]) == 2
    assert "exists; pass --overwrite" in capsys.readouterr().err and path.read_bytes() == before
    bare = save_small_encoder(tmp_path / "bare.safetensors", input_spec={})
    assert main(["export", str(bare), "--onnx", str(tmp_path / "m.onnx")]) == 2
    assert "pass --samples" in capsys.readouterr().err and not (tmp_path / "m.onnx").exists()
    assert main(["export", str(run)]) == 2
    assert "give --onnx FILE and/or --hub DIR" in capsys.readouterr().err
