"""threekg prepare on generated collections: bad records rejected with exact reasons, good ones intact,
resampling, label sets, arrays path, determinism across workers, re-runs and kill-and-resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from data_fixtures import ecg_like, write_record

from threekg.data import open_dataset, prepare
from threekg.data.resample import fix_length, rational_ratio
from threekg.leads import LEADS

BAD = {  # record name -> (write_record kwargs, exact reason in rejected.csv)
    "B01": ({"gains": [1000.0] * 5 + [0.0] * 7}, "lead aVF: zero gain"),
    "B02": ({"comments": ("# Age: 50", "# Sex: Male")}, "no # Dx in header"),
    "B03": ({"comments": ("# Age: 50", "# Dx: ")}, "empty # Dx"),
    "B04": ({"names": [*LEADS[:11], "foo"]},
            "missing lead(s) V6 (signals: I,II,III,aVR,aVL,aVF,V1,V2,V3,V4,V5,foo)"),
    "B05": ({"header_n": 4000}, "header declares 4000 samples, B05.mat has 5000"),
    "B06": ({"header_nsig": 11}, "header declares 11 signals but lists 12"),
}


def _collection(root: Path) -> dict[str, np.ndarray]:
    """Good records (returned, mV) mixed with bad ones, in nested folders."""
    good = {}
    for i in range(6):
        sig = ecg_like(5000, 500, seed=10 + i)
        write_record(root / ("g1" if i % 2 else "g2/deep"), f"A{i:02d}", sig,
                     comments=("#Age: NaN", "#Sex: Female", "#Dx: 164889003,59118001,,999999,"))
        good[f"A{i:02d}"] = sig
    for name, (kwargs, _) in BAD.items():
        write_record(root / "bad", name, **kwargs)
    flat = ecg_like(5000, 500)
    flat[6] = 0.0
    write_record(root / "bad", "B07", flat)
    (root / "bad" / "B08.hea").write_text("B08 12 500 5000\n")  # signal lines missing
    write_record(root / "bad", "B09", n=5000)
    (root / "bad" / "B09.mat").write_bytes((root / "bad" / "B09.mat").read_bytes()[:1000])
    return good


def test_bad_records_are_rejected_and_good_ones_intact(tmp_path: Path) -> None:
    good = _collection(tmp_path / "src")
    summary = prepare(tmp_path / "src", tmp_path / "out", workers=1, progress=False)
    ds = open_dataset(tmp_path / "out")
    rej = dict(zip(ds.rejected["record"], ds.rejected["reason"], strict=True))
    for name, (_, reason) in BAD.items():
        assert rej[name] == reason
    assert rej["B07"] == "flat lead(s) V1 (peak-to-peak < 0.01 mV)"
    assert rej["B08"] == "header declares 12 signals but lists 0"
    assert rej["B09"].startswith("MATLAB v4 file is truncated")
    assert len(rej) == 9 and summary.n_rejected == 9 and ds.manifest["n_rejected"] == 9
    assert ds.records["record"].tolist() == ["A01", "A03", "A05", "A00", "A02", "A04"]  # by relative path
    for i, name in enumerate(ds.records["record"]):
        np.testing.assert_allclose(ds.signals[i], good[name], atol=0.5e-3 + 1e-6)
    af, rbbb = ds.label_names.index("AF"), ds.label_names.index("RBBB")
    assert ds.labels[:, af].all() and ds.labels[:, rbbb].all() and ds.labels.sum() == 12
    assert ds.records["codes"].iloc[0] == "164889003;59118001;999999"
    assert ds.manifest["codes_outside_label_set"] == {"999999": 6}
    assert ds.records["age"].isna().all() and (ds.records["patient_id"] == ds.records["record"]).all()
    assert "accepted" in str(summary) and "6 records accepted, 9 rejected" in str(summary)


@pytest.mark.parametrize("fs_in", [257.0, 1000.0, 360.0])
def test_resampling_keeps_frequency_and_amplitude(fs_in: float) -> None:
    f0 = 7.0
    t = np.arange(int(fs_in * 12)) / fs_in
    x = np.tile(1.3 * np.sin(2 * np.pi * f0 * t), (12, 1))
    y = fix_length(x, fs_in, 500.0, 5000, "reject")
    assert y.shape == (12, 5000)
    spec = np.abs(np.fft.rfft(y[0, 500:4500]))
    freqs = np.fft.rfftfreq(4000, 1 / 500)
    assert abs(freqs[np.argmax(spec)] - f0) < 0.2
    ref = 1.3 * np.sin(2 * np.pi * f0 * np.arange(5000) / 500)
    np.testing.assert_allclose(y[0, 250:4750], ref[250:4750], atol=0.01)
    assert rational_ratio(257, 500) == (500, 257) and rational_ratio(1000, 500) == (1, 2)


def test_short_records_pad_or_reject(tmp_path: Path) -> None:
    write_record(tmp_path / "src", "S1", n=3000)
    write_record(tmp_path / "src", "L1", fs=1000, n=20000)
    prepare(tmp_path / "src", tmp_path / "pad", workers=1, progress=False)
    ds = open_dataset(tmp_path / "pad")
    s1 = ds.records["record"].tolist().index("S1")
    assert np.all(ds.signals[s1, :, 3000:] == 0) and np.abs(ds.signals[s1, :, 2900:3000]).max() > 0
    assert ds.records["fs_original"].tolist() == [1000.0, 500.0] and ds.records["n_samples_original"].tolist() == [20000, 3000]
    prepare(tmp_path / "src", tmp_path / "rej", workers=1, progress=False, short="reject")
    ds = open_dataset(tmp_path / "rej")
    assert ds.rejected.to_dict("records") == [{"record": "S1", "reason": "too short: 6.00 s < 10 s"}]


def test_workers_give_identical_bytes_and_reruns(tmp_path: Path) -> None:
    _collection(tmp_path / "src")
    prepare(tmp_path / "src", tmp_path / "w1", workers=1, progress=False, chunk_size=4, fs=250)
    prepare(tmp_path / "src", tmp_path / "w2", workers=2, progress=False, chunk_size=4, fs=250)
    for name in ("signals.npy", "labels.npy", "records.csv", "rejected.csv", "manifest.json"):
        assert (tmp_path / "w1" / name).read_bytes() == (tmp_path / "w2" / name).read_bytes(), name
    assert np.load(tmp_path / "w1" / "signals.npy", mmap_mode="r").shape == (6, 12, 2500)
    again = prepare(tmp_path / "src", tmp_path / "w1", workers=1, progress=False, fs=250)
    assert again.status == "complete" and "nothing to do" in str(again)
    with pytest.raises(FileExistsError, match="other options"):
        prepare(tmp_path / "src", tmp_path / "w1", workers=1, progress=False, fs=100)
    prepare(tmp_path / "src", tmp_path / "w1", workers=1, progress=False, fs=100, overwrite=True)
    assert open_dataset(tmp_path / "w1").n_samples == 1000


def test_kill_and_resume_is_byte_identical(tmp_path: Path) -> None:
    for i in range(60):
        write_record(tmp_path / "src", f"K{i:03d}", n=2000, seed=i)
    cmd = [sys.executable, "-m", "threekg.cli.main", "prepare", str(tmp_path / "src"), "--out",
           str(tmp_path / "killed"), "--fs", "1000", "--workers", "1", "--seconds", "4"]
    env = {**os.environ, "THREEKG_PREPARE_CHUNK": "4"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    journal = tmp_path / "killed" / ".partial" / "journal.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and (not journal.exists() or len(journal.read_text().splitlines()) < 3):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / "killed" / "manifest.json").exists()
    done_before = len(journal.read_text().splitlines())
    assert 3 <= done_before < 15, "the run was not killed mid-way"
    summary = prepare(tmp_path / "src", tmp_path / "killed", fs=1000, seconds=4, workers=1, progress=False,
                      chunk_size=4)
    assert summary.n_accepted == 60
    prepare(tmp_path / "src", tmp_path / "clean", fs=1000, seconds=4, workers=2, progress=False)
    for name in ("signals.npy", "labels.npy", "records.csv", "rejected.csv"):
        assert (tmp_path / "killed" / name).read_bytes() == (tmp_path / "clean" / name).read_bytes(), name
    m1, m2 = (json.loads((tmp_path / d / "manifest.json").read_text()) for d in ("killed", "clean"))
    assert m1 == m2
    assert not (tmp_path / "killed" / ".partial").exists()


def test_labels_csv_and_arrays(tmp_path: Path) -> None:
    for i in range(3):
        write_record(tmp_path / "w", f"p{i}", ext="dat", comments=(), n=1000, fs=100,
                     names=[n.lower() for n in LEADS])
    pd.DataFrame({"record": ["p0", "p1", "p9"], "AF": [1, 0, 1], "MI": [0, 1, 1]}).to_csv(tmp_path / "l.csv", index=False)
    prepare(tmp_path / "w", tmp_path / "o1", labels=tmp_path / "l.csv", fs=100, workers=1, progress=False)
    ds = open_dataset(tmp_path / "o1")
    assert ds.label_names == ["AF", "MI"] and ds.labels.tolist() == [[1, 0], [0, 1]]
    assert dict(zip(ds.rejected["record"], ds.rejected["reason"], strict=True)) == {
        "p2": "no row in labels CSV", "p9": "listed in labels CSV but no header found"}
    arr = np.stack([ecg_like(1000, 100, seed=i) for i in range(4)]).astype(np.float32)
    arr[2, 5] = np.nan
    np.save(tmp_path / "a.npy", arr)
    np.savez_compressed(tmp_path / "a.npz", signals=arr)
    pd.DataFrame({"record": list("abcd"), "X": [1, 0, 1, 0]}).to_csv(tmp_path / "al.csv", index=False)
    for ext in ("npy", "npz"):
        prepare(tmp_path / f"a.{ext}", tmp_path / f"oa{ext}", labels=tmp_path / "al.csv", fs=100, seconds=10,
                workers=1, progress=False)
        ds = open_dataset(tmp_path / f"oa{ext}")
        assert ds.records["record"].tolist() == ["a", "b", "d"] and ds.labels[:, 0].tolist() == [1, 0, 0]
        np.testing.assert_array_equal(ds.signals[2], arr[3])
        assert ds.rejected["reason"].tolist() == ["lead aVF: NaN or infinite values"]


def test_patient_comment_sets_patient_id(tmp_path: Path) -> None:
    """`#Patient: ID` (several recordings of one patient, as threekg synth writes) becomes patient_id;
    records without it keep their record id."""
    src = tmp_path / "src"
    base = ("# Age: 60", "# Sex: Female", "# Dx: 426783006")
    write_record(src, "A1", comments=(*base, "#Patient: P7"), seed=1)
    write_record(src, "A2", comments=(*base, "# Patient: P7"), seed=2)
    write_record(src, "A3", comments=base, seed=3)
    prepare(src, tmp_path / "out", fs=100, seconds=5, label_set="cinc2020", workers=1, progress=False)
    ds = open_dataset(tmp_path / "out")
    assert dict(zip(ds.records["record"], ds.records["patient_id"], strict=True)) == {"A1": "P7", "A2": "P7", "A3": "A3"}


def test_failed_overwrite_keeps_the_previous_dataset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--overwrite moves the old complete dataset aside and deletes it only when the new one is complete:
    a rebuild that fails (full disk, kill) loses nothing."""
    import errno
    import importlib

    prep = importlib.import_module("threekg.data.prepare")  # the module (threekg.data.prepare is the function)

    src = tmp_path / "src"
    for i in range(3):
        write_record(src, f"A{i}", seed=i)
    out = tmp_path / "out"
    prepare(src, out, fs=100, seconds=5, label_set="cinc2020", workers=1, progress=False)
    before = (out / "signals.npy").read_bytes()

    def full_disk(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(prep, "_finalize", full_disk)
    with pytest.raises(OSError):
        prepare(src, out, fs=50, seconds=5, label_set="cinc2020", workers=1, progress=False, overwrite=True)
    kept = prep.replaced_path(out)
    assert open_dataset(kept).fs == 100 and (kept / "signals.npy").read_bytes() == before
    monkeypatch.undo()
    prepare(src, out, fs=50, seconds=5, label_set="cinc2020", workers=1, progress=False, overwrite=True)
    assert open_dataset(out).fs == 50 and not kept.exists()


def test_folds_keep_only_the_named_strat_folds(tmp_path: Path) -> None:
    """`folds` keeps the records whose strat_fold is named; a dataset made without it keeps its options
    (and so its fingerprint); a source without folds, a spec matching nothing and a bad spec are refused."""
    from threekg.errors import UsageError

    for i in range(6):
        write_record(tmp_path / "w", f"r{i}", ext="dat", comments=(), n=1000, fs=100,
                     names=[n.lower() for n in LEADS])
    table = pd.DataFrame({"record": [f"r{i}" for i in range(6)], "AF": [1, 0, 1, 0, 1, 0],
                          "strat_fold": [1, 2, 3, 8, 9, 10]})
    table.to_csv(tmp_path / "l.csv", index=False)
    for spec, kept in (("1-3", ["r0", "r1", "r2"]), ("1-2,9", ["r0", "r1", "r4"]), ([10, 8], ["r3", "r5"])):
        out = tmp_path / f"o{kept[0]}{len(kept)}{kept[-1]}"
        prepare(tmp_path / "w", out, labels=tmp_path / "l.csv", fs=100, workers=1, progress=False, folds=spec)
        ds = open_dataset(out)
        assert ds.records["record"].tolist() == kept
        assert ds.records["strat_fold"].tolist() == table.set_index("record").loc[kept, "strat_fold"].tolist()
        assert json.loads((out / "manifest.json").read_text())["options"]["folds"] == sorted(
            table.set_index("record").loc[kept, "strat_fold"].unique().tolist())
    prepare(tmp_path / "w", tmp_path / "all", labels=tmp_path / "l.csv", fs=100, workers=1, progress=False)
    assert "folds" not in json.loads((tmp_path / "all" / "manifest.json").read_text())["options"]
    assert len(open_dataset(tmp_path / "all")) == 6
    with pytest.raises(UsageError, match=r"no record in folds \[4, 5\]; its folds are \[1, 2, 3, 8, 9, 10\]"):
        prepare(tmp_path / "w", tmp_path / "none", labels=tmp_path / "l.csv", fs=100, workers=1, progress=False,
                folds="4-5")
    with pytest.raises(UsageError, match="expected fold numbers"):
        prepare(tmp_path / "w", tmp_path / "bad", labels=tmp_path / "l.csv", fs=100, workers=1, progress=False,
                folds="one-eight")
    gap = table.astype({"strat_fold": float})
    gap.loc[1, "strat_fold"] = np.nan  # an empty cell: that record is left out, not a crash
    gap.to_csv(tmp_path / "gap.csv", index=False)
    prepare(tmp_path / "w", tmp_path / "gap", labels=tmp_path / "gap.csv", fs=100, workers=1, progress=False,
            folds="1-3")
    assert open_dataset(tmp_path / "gap").records["record"].tolist() == ["r0", "r2"]
    prepare(tmp_path / "w", tmp_path / "gapall", labels=tmp_path / "gap.csv", fs=100, workers=1, progress=False)
    gapall = open_dataset(tmp_path / "gapall")  # before: int('1.0') rejected every record of such a CSV
    assert len(gapall) == 6 and gapall.records["strat_fold"].isna().tolist() == [False, True, False, False, False, False]
    with pytest.raises(UsageError, match="needs records with a strat_fold"):
        prepare(tmp_path / "w", tmp_path / "nofold", fs=100, workers=1, progress=False, folds="1-8")
