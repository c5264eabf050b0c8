"""`threekg embed`: evaluate's numbers, the crop-mean definition, resuming, identity, bad input."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

import threekg.embed as embed_mod
from encoder_fixtures import make_data, make_run, save_small_encoder
from threekg.cli.main import main
from threekg.data import open_dataset
from threekg.embed import embed_dataset, open_embeddings
from threekg.evaluate import EvalOptions, evaluate
from threekg.leads import LEADS
from threekg.models import load_encoder


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_data(tmp_path_factory.mktemp("embed") / "data")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_run(tmp_path_factory.mktemp("embed") / "runs" / "3kg")


def test_same_numbers_as_evaluate_cache(data: Path, run: Path, tmp_path: Path) -> None:
    """Bit for bit the array evaluate caches, for 2 s crops (2 per 4 s record) and whole records."""
    for crop in (2.0, None):
        evaluate(data, [str(run)], tmp_path / f"eval{crop}",
                 EvalOptions(fractions=(1.0,), seeds=(0,), n_boot=0, crop_seconds=crop, progress=False))
        (cached,) = sorted((tmp_path / f"eval{crop}" / "embeddings").glob("emb-*.npy"))
        # chunks of one batch: the run is committed 3 times, and still gives the same numbers
        result = embed_dataset(data, run, tmp_path / f"emb{crop}", crop_seconds=crop, chunk_batches=1, progress=False)
        ours = np.asarray(result.z)
        assert ours.dtype == np.float32 and ours.shape == (150, 64)
        assert np.array_equal(ours, np.load(cached)), f"crop {crop}: differs from evaluate's cache"


def test_minmax_encoder_same_numbers_as_evaluate_and_its_definition(data: Path, tmp_path: Path) -> None:
    """An encoder pretrained on min-max scaled recordings is fed them scaled, as evaluate does."""
    run = make_run(tmp_path / "runs" / "minmax", normalize="minmax")
    evaluate(data, [str(run)], tmp_path / "eval",
             EvalOptions(fractions=(1.0,), seeds=(0,), n_boot=0, crop_seconds=2.0, progress=False))
    (cached,) = sorted((tmp_path / "eval" / "embeddings").glob("emb-*.npy"))
    result = embed_dataset(data, run, tmp_path / "emb", crop_seconds=2.0, progress=False)
    assert np.array_equal(np.asarray(result.z), np.load(cached))
    assert result.info["identity"]["normalize"] == "minmax"
    x = np.array(open_dataset(data).signals[:4], dtype=np.float64)
    x = torch.from_numpy((x / (x.max(axis=(1, 2)) - x.min(axis=(1, 2)))[:, None, None]).astype(np.float32))
    with torch.no_grad():
        enc = load_encoder(run)
        expected = (enc(x[..., :200]) + enc(x[..., 200:400])) / 2
    np.testing.assert_allclose(np.asarray(result.z[:4]), expected.numpy(), rtol=0, atol=1e-5)


def test_crop_mean_matches_its_definition(data: Path, run: Path, tmp_path: Path) -> None:
    """Reference written from the definition: non-overlapping crops from the start, tail dropped, mean."""
    result = embed_dataset(data, run, tmp_path / "emb", crop_seconds=1.5, progress=False)  # 150 samples, 2 crops
    assert result.info["identity"]["crop_samples"] == 150 and result.info["identity"]["n_crops"] == 2
    x = torch.from_numpy(np.array(open_dataset(data).signals[:5]))
    enc = load_encoder(run)
    with torch.no_grad():
        expected = (enc(x[..., 0:150]) + enc(x[..., 150:300])) / 2  # samples 300-399 do not fill a crop
    np.testing.assert_allclose(np.asarray(result.z[:5]), expected.numpy(), rtol=0, atol=1e-5)


def test_default_crop_is_the_encoders_pretraining_crop(data: Path, tmp_path: Path) -> None:
    enc = save_small_encoder(tmp_path / "enc.safetensors", crop_samples=100)
    info = embed_dataset(data, enc, tmp_path / "emb", progress=False).info["identity"]
    assert (info["crop_seconds"], info["crop_samples"], info["n_crops"]) == (1.0, 100, 4)
    whole = embed_dataset(data, enc, tmp_path / "whole", crop_seconds=0, progress=False)
    x = torch.from_numpy(np.array(open_dataset(data).signals[:3]))
    with torch.no_grad():
        np.testing.assert_allclose(np.asarray(whole.z[:3]), load_encoder(enc)(x).numpy(), rtol=0, atol=1e-5)


def test_outputs_identity_and_row_order(data: Path, run: Path, tmp_path: Path) -> None:
    out = tmp_path / "emb"
    embed_dataset(data, run, out, crop_seconds=2.0, progress=False)
    z = np.load(out / "embeddings.npy", mmap_mode="r", allow_pickle=False)
    assert isinstance(z, np.memmap) and z.shape == (150, 64) and z.dtype == np.float32
    ds = open_dataset(data)
    loaded = open_embeddings(out)
    assert list(loaded.records["record"]) == list(ds.records["record"])
    assert list(loaded.records["row"]) == list(range(150))
    info = json.loads((out / "embed.json").read_text())
    enc = info["identity"]["encoder"]
    assert enc["sha256"] == hashlib.sha256((run / "encoder.safetensors").read_bytes()).hexdigest()
    assert enc["config"] == {"name": "resnet18-small", "width": 8}
    assert enc["input"]["fs"] == 100.0 and enc["method"] == "3kg" and enc["global_step"] == 7
    assert info["identity"]["data"]["n_records"] == 150 and not (out / "progress.json").exists()


def test_killed_run_continues_where_it_stopped(data: Path, run: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    reference = np.array(embed_dataset(data, run, tmp_path / "ref", crop_seconds=2.0, progress=False).z)
    real_embed = embed_mod.embed
    calls: list[int] = []

    def dies_on_third_chunk(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(len(args[1]))
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_embed(*args, **kwargs)

    monkeypatch.setattr(embed_mod, "embed", dies_on_third_chunk)
    out = tmp_path / "emb"
    with pytest.raises(KeyboardInterrupt):
        embed_dataset(data, run, out, crop_seconds=2.0, batch_size=16, chunk_batches=2, progress=False)
    state = json.loads((out / "progress.json").read_text())
    assert state["rows_done"] == 64 and not (out / "embed.json").exists()
    with pytest.raises(ValueError, match="unfinished"):
        open_embeddings(out)
    calls.clear()
    monkeypatch.setattr(embed_mod, "embed", lambda *a, **k: (calls.append(len(a[1])), real_embed(*a, **k))[1])
    result = embed_dataset(data, run, out, crop_seconds=2.0, batch_size=16, chunk_batches=2, progress=False)
    assert sum(calls) == 150 - 64, "the resumed run recomputed finished rows"
    np.testing.assert_allclose(np.asarray(result.z), reference, rtol=0, atol=1e-5)  # other batch size
    assert result.info["rows_computed"] == 150 - 64

    def must_not_run(*a, **k):  # type: ignore[no-untyped-def]
        raise AssertionError("a complete output was recomputed")

    monkeypatch.setattr(embed_mod, "embed", must_not_run)
    assert np.array_equal(np.asarray(embed_dataset(data, run, out, crop_seconds=2.0, progress=False).z),
                          np.asarray(result.z))


def test_other_embeddings_are_not_overwritten_silently(data: Path, run: Path, tmp_path: Path) -> None:
    out = tmp_path / "emb"
    first = np.array(embed_dataset(data, run, out, crop_seconds=2.0, progress=False).z)
    other = save_small_encoder(tmp_path / "other.safetensors", seed=1)
    with pytest.raises(ValueError, match="another encoder, dataset or crop"):
        embed_dataset(data, other, out, crop_seconds=2.0, progress=False)
    with pytest.raises(ValueError, match="another encoder, dataset or crop"):
        embed_dataset(data, run, out, crop_seconds=1.0, progress=False)
    assert np.array_equal(np.load(out / "embeddings.npy"), first), "refused run altered the good output"
    replaced = embed_dataset(data, other, out, crop_seconds=2.0, progress=False, overwrite=True)
    assert not np.array_equal(np.asarray(replaced.z), first)


@pytest.mark.parametrize(("spec", "options", "crop", "needles"), [
    ({"fs": 500.0, "crop_samples": 1000}, {}, "encoder", ["500 Hz", "100 Hz", "enc.safetensors", "data"]),
    ({"fs": 100.0, "leads": ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V6", "V5"]}, {}, 2.0,
     ["V4,V6,V5", "V4,V5,V6", "enc.safetensors"]),
    ({}, {"in_channels": 8}, 2.0, ["takes 8 leads", "has 12", "enc.safetensors"]),
    ({"fs": 100.0, "crop_samples": 500}, {}, "encoder", ["500 samples", "400 samples", "--crop-seconds 0"]),
    ({}, {}, 4.5, ["450 samples", "400 samples"]),
])
def test_encoder_that_does_not_fit_the_data_is_one_line_naming_both(
        data: Path, tmp_path: Path, spec: dict, options: dict, crop: float | str, needles: list[str]) -> None:
    enc = save_small_encoder(tmp_path / "enc.safetensors", input_spec=spec, **options)
    with pytest.raises(ValueError) as err:
        embed_dataset(data, enc, tmp_path / "emb", crop_seconds=crop, progress=False)  # type: ignore[arg-type]
    message = str(err.value)
    assert "\n" not in message
    for needle in needles:
        assert needle in message, (needle, message)
    assert not (tmp_path / "emb").exists(), "nothing is written for a refused encoder"


def test_non_finite_record_is_named(tmp_path: Path, run: Path) -> None:
    data = make_data(tmp_path / "bad", n=40, nan_row=33)
    with pytest.raises(ValueError, match=r"non-finite.*R0033"):
        embed_dataset(data, run, tmp_path / "emb", crop_seconds=2.0, progress=False)


def test_cli(data: Path, run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "emb"
    assert main(["embed", str(data), "--encoder", str(run), "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "150 records x 64 dims" in printed and "mean of 2 crops of 2 s" in printed
    assert np.load(out / "embeddings.npy").shape == (150, 64)
    bad = save_small_encoder(tmp_path / "enc500.safetensors", fs=500.0)
    assert main(["embed", str(data), "--encoder", str(bad), "--out", str(tmp_path / "x"), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("threekg embed: error: encoder") and "500 Hz" in err and "\n" not in err
    assert main(["embed", str(data), "--encoder", str(tmp_path / "nope"), "--out", str(tmp_path / "y")]) == 2
    assert "no such encoder" in capsys.readouterr().err


def test_unfinished_run_is_refused(data: Path, tmp_path: Path) -> None:
    run = make_run(tmp_path / "run")
    (run / "DONE").unlink()
    with pytest.raises(ValueError, match="did not finish"):
        embed_dataset(data, run, tmp_path / "emb", progress=False)


def test_leads_constant_is_what_prepared_data_records(data: Path) -> None:
    assert open_dataset(data).manifest["leads"] == list(LEADS)
