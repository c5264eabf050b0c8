"""The DeepFake-ECG source: safe loading, determinism, derived leads, the written tree, resume, prepare.

Everything but the missing-extra tests needs the optional ``deepfake-ecg`` package and is skipped
without it.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch
import wfdb

from threekg.leads import INDEPENDENT_INDEX, INDEPENDENT_LEADS, LEADS
from threekg.synth import deepfake
from threekg.synth.challenge import write_challenge_tree

SEED = 5
N = 35  # two forward blocks of 32, the second one partly written
L = {name: i for i, name in enumerate(LEADS)}

needs_extra = pytest.mark.skipif(
    not deepfake.extra_installed(), reason="optional extra threekg[deepfake] (deepfake-ecg) not installed")


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def net() -> torch.nn.Module:
    if not deepfake.extra_installed():
        pytest.skip("optional extra threekg[deepfake] (deepfake-ecg) not installed")
    return deepfake.load_generator()


@pytest.fixture(scope="module")
def in_memory(net: torch.nn.Module) -> np.ndarray:
    """Records 0..63 (the two blocks of the tree) at 100 Hz, (64, 12, 1000) mV, generated in one call."""
    return deepfake.generate_deepfake(range(64), SEED, fs=100, net=net)


@pytest.fixture(scope="module")
def tree(net: torch.nn.Module, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("deepfake") / "out"
    return write_challenge_tree(out, n=N, seed=SEED, fs=100, workers=1, progress=False, generator="deepfake")


# -- loading ---------------------------------------------------------------------------------------


class _RunsCode:
    """A payload whose unpickling would create a file (what a malicious checkpoint would do)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.mkdir, (str(self.marker),))


def test_a_pickled_payload_with_code_is_refused(tmp_path: Path) -> None:
    marker, bad = tmp_path / "code-ran", tmp_path / "evil.pt"
    torch.save({"stat_dict": {"w": _RunsCode(marker)}}, bad)
    with pytest.raises(ValueError, match=r"evil\.pt: refused, not a weights-only checkpoint"):
        deepfake.load_state_dict(bad)
    assert not marker.exists()


def test_a_file_that_is_not_a_checkpoint_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match=r"junk\.pt: refused"):
        deepfake.load_state_dict(junk)
    torch.save({"stat_dict": {"w": [1, 2]}}, tmp_path / "list.pt")  # loadable, but not tensors
    with pytest.raises(ValueError, match="not a state dict of tensors"):
        deepfake.load_state_dict(tmp_path / "list.pt")
    with pytest.raises(FileNotFoundError, match=r"absent\.pt"):
        deepfake.load_state_dict(tmp_path / "absent.pt")


@needs_extra
def test_loading_leaves_the_global_torch_random_state_alone(net: torch.nn.Module) -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    deepfake.load_generator()
    assert torch.equal(torch.rand(3), expected)
    assert not net.training and not any(p.requires_grad for p in net.parameters())


# -- records in memory -----------------------------------------------------------------------------


def test_the_independent_leads_are_the_network_output_and_the_limb_leads_follow(net: torch.nn.Module) -> None:
    index = 40
    row = deepfake.generate_deepfake([index], SEED, fs=500, net=net)[0]
    assert row.shape == (12, 5000)
    # reference: the package's network called directly on the same latents, scaled to mV
    block = deepfake.block_of(index)
    z = torch.from_numpy(np.stack([deepfake.latent(SEED, i) for i in block]))
    with torch.no_grad():
        ref = net(z)[index - block.start].numpy().astype(np.float64) * deepfake.MV_PER_UNIT
    np.testing.assert_array_equal(row[list(INDEPENDENT_INDEX)], ref)
    i, ii = ref[0], ref[1]
    np.testing.assert_allclose(row[L["III"]], ii - i, atol=1e-12)
    np.testing.assert_allclose(row[L["aVR"]], -(i + ii) / 2, atol=1e-12)
    np.testing.assert_allclose(row[L["aVL"]], i - ii / 2, atol=1e-12)
    np.testing.assert_allclose(row[L["aVF"]], ii - i / 2, atol=1e-12)


def test_the_latent_is_uniform_and_fixed_by_seed_and_index() -> None:
    z = deepfake.latent(SEED, 7)
    assert z.shape == (8, 5000) and z.dtype == np.float32
    assert -1.0 <= z.min() and z.max() < 1.0 and abs(float(z.mean())) < 0.02
    np.testing.assert_array_equal(z, deepfake.latent(SEED, 7))
    assert not np.array_equal(z, deepfake.latent(SEED, 8)) and not np.array_equal(z, deepfake.latent(SEED + 1, 7))


def test_a_record_depends_on_neither_the_request_nor_the_torch_threads(
        net: torch.nn.Module, in_memory: np.ndarray) -> None:
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(2 if threads == 1 else 1)
        alone = deepfake.generate_deepfake([33], SEED, fs=100, net=net)[0]
    finally:
        torch.set_num_threads(threads)
    np.testing.assert_array_equal(alone, in_memory[33])
    assert alone.shape == (12, 1000)


# -- the written tree ------------------------------------------------------------------------------


def test_header_names_the_record_and_patient_and_has_no_diagnosis(tree: Path) -> None:
    lines = (tree / "g1" / "DFK000001.hea").read_text().splitlines()
    assert lines[0] == "DFK000001 12 100 1000"
    assert [line.split()[8] for line in lines[1:13]] == list(LEADS)
    assert lines[13:] == ["#Age: Unknown", "#Sex: Unknown", "#Dx: ", "#Rx: Unknown", "#Hx: Unknown",
                          "#Sx: Unknown", "#Patient: DFKP000001"]
    assert len(list((tree / "g1").glob("*.hea"))) == N


def test_written_records_round_trip_and_keep_the_lead_identities(tree: Path, in_memory: np.ndarray) -> None:
    for index in (0, 34):
        signal = in_memory[index]
        base = deepfake.record_path(tree, index)
        rec = wfdb.rdrecord(str(base))
        assert rec.fs == 100 and rec.sig_name == list(LEADS)
        d = rec.p_signal.T
        assert np.abs(d - signal).max() <= 0.0005 + 1e-9  # 1 uV quantisation
        assert np.abs(d[L["III"]] - (d[L["II"]] - d[L["I"]])).max() <= 0.0015 + 1e-9
        assert np.abs(d[L["aVR"]] + (d[L["I"]] + d[L["II"]]) / 2).max() <= 0.0015 + 1e-9
        assert np.abs(d[L["aVL"]] - (d[L["I"]] - d[L["II"]] / 2)).max() <= 0.0015 + 1e-9
        assert np.abs(d[L["aVF"]] - (d[L["II"]] - d[L["I"]] / 2)).max() <= 0.0015 + 1e-9
    val = scipy.io.loadmat(str(deepfake.record_path(tree, 2).with_suffix(".mat")))["val"]
    assert val.dtype == np.int16 and val.shape == (12, 1000)


def test_scale_is_millivolts_within_the_tanh_bound(tree: Path) -> None:
    """|I|, |II|, |V| <= 6 mV (tanh x 6; the 500 -> 100 Hz filter may overshoot a little); QRS-sized swings."""
    x = np.stack([wfdb.rdrecord(str(deepfake.record_path(tree, i))).p_signal.T for i in range(N)])
    assert np.abs(x[:, list(INDEPENDENT_INDEX)]).max() <= deepfake.MV_PER_UNIT * 1.05
    swing = np.percentile(x, 99.5, axis=-1) - np.percentile(x, 0.5, axis=-1)  # (N, 12) mV
    assert 0.3 < np.median(swing[:, L["II"]]) < 3.0 and 0.5 < np.median(swing[:, L["V2"]]) < 4.0


@pytest.mark.realdata
def test_amplitudes_match_real_ptbxl_records(in_memory: np.ndarray) -> None:
    """Per independent lead, the median swing (99.5th - 0.5th percentile after a 0.5 Hz high-pass)
    of 64 records is within 0.8-1.3x that of 200 real PTB-XL records at 100 Hz (measured at 500 Hz:
    0.98-1.15 for 512 records against all 500, benchmarks/deepfake_scale.py). A wrong unit is off by 5x or more."""
    from scipy.signal import butter, sosfiltfilt

    from realdata_paths import shared_subdir

    root = shared_subdir("ptbxl-500")
    headers = sorted((root / "records100").rglob("*_lr.hea"))[:200]
    real = np.stack([wfdb.rdrecord(str(h.with_suffix(""))).p_signal.T for h in headers])
    assert real.shape == (200, *in_memory.shape[1:])
    sos = butter(2, 0.5, btype="high", fs=100, output="sos")

    def swing(x: np.ndarray) -> np.ndarray:
        y = sosfiltfilt(sos, x[:, list(INDEPENDENT_INDEX)], axis=-1)
        return np.median(np.percentile(y, 99.5, axis=-1) - np.percentile(y, 0.5, axis=-1), axis=0)

    ratio = swing(real) / swing(in_memory)  # measured: 1.01 (II) to 1.19 (V2)
    assert np.all((ratio > 0.8) & (ratio < 1.3)), dict(zip(INDEPENDENT_LEADS, ratio.round(2), strict=True))


def test_tree_is_the_same_for_any_n_workers_and_after_a_resume(tree: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    write_challenge_tree(other, n=3, seed=SEED, fs=100, workers=1, progress=False, generator="deepfake")
    write_challenge_tree(other, n=N, seed=SEED, fs=100, workers=2, progress=False, generator="deepfake")
    assert _files(other) == _files(tree)
    # interrupt: records missing in the last block, and a half-written .mat left behind
    for i in (32, 34):
        deepfake.record_path(other, i).with_suffix(".hea").unlink()
    deepfake.record_path(other, 32).with_suffix(".mat").write_bytes(b"partial")
    write_challenge_tree(other, n=N, seed=SEED, fs=100, workers=1, progress=False, generator="deepfake")
    assert _files(other) == _files(tree)


def test_resume_refuses_other_options_and_other_generators(tree: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(tree, copy)
    with pytest.raises(ValueError, match=r"synth\.json"):
        write_challenge_tree(copy, n=N, seed=SEED, fs=250, workers=1, progress=False, generator="deepfake")
    with pytest.raises(ValueError, match=r"synth\.json"):
        write_challenge_tree(copy, n=N, seed=SEED, fs=100, workers=1, progress=False)  # the dipole model
    assert _files(copy) == _files(tree)


@needs_extra
@pytest.mark.parametrize(("kwargs", "match"), [
    ({"seconds": 5.0}, "10 s records"),
    ({"recordings_per_patient": 2}, "one recording per patient"),
    ({"fs": 0.0}, "fs must be positive"),
])
def test_options_the_generator_cannot_honour_are_refused(tmp_path: Path, kwargs: dict, match: str) -> None:
    opts = {"n": 2, "seed": 0, "fs": 100.0, **kwargs}
    with pytest.raises(ValueError, match=match):
        write_challenge_tree(tmp_path / "x", workers=1, progress=False, generator="deepfake", **opts)
    assert not (tmp_path / "x").exists()


def test_prepare_reads_the_tree_with_no_labels(tree: Path, tmp_path: Path) -> None:
    import pandas as pd

    from threekg.data import prepare

    summary = prepare(tree, tmp_path / "prepared", fs=100, label_set="none", workers=1, progress=False)
    assert summary.n_accepted == N and summary.n_rejected == 0
    records = pd.read_csv(tmp_path / "prepared" / "records.csv", dtype=str)
    assert records["patient_id"].tolist() == [f"DFKP{i + 1:06d}" for i in range(N)]
    assert records["patient_id"].is_unique


@needs_extra
def test_a_study_generates_and_prepares_a_deepfake_corpus(tmp_path: Path) -> None:
    from threekg.experiment.config import parse_config
    from threekg.experiment.plan import build_plan

    cfg = parse_config({"name": "df", "out": "out", "data": {
        "synth": {"generator": "deepfake", "n": 3, "seed": SEED, "fs": 100},
        "prepare": {"fs": 100, "seconds": 10, "label_set": "none"}}}, tmp_path)
    steps = {s.name: s for s in build_plan(cfg, workers=1)}
    for name in ("synth", "prepare"):
        steps[name].run(False)
        assert steps[name].is_complete()
    assert (tmp_path / "out" / "raw" / "g1" / "DFK000003.hea").exists()
    assert json.loads((tmp_path / "out" / "data" / "manifest.json").read_text())["n_records"] == 3


# -- without the extra -----------------------------------------------------------------------------


def test_missing_extra_is_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    from threekg.cli.main import main

    monkeypatch.setitem(sys.modules, "deepfakeecg", None)  # import deepfakeecg -> ModuleNotFoundError
    monkeypatch.setitem(sys.modules, "deepfakeecg.models", None)
    assert not deepfake.extra_installed()
    with pytest.raises(deepfake.MissingExtraError, match=r"threekg\[deepfake\]"):
        deepfake.load_generator()
    code = main(["synth", str(tmp_path / "df"), "--generator", "deepfake", "--n", "2", "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert err == f"threekg synth: error: {deepfake.MISSING_EXTRA}"


def test_unknown_generator_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown generator 'gan'"):
        write_challenge_tree(tmp_path, n=1, seed=0, generator="gan")
