"""Measurement: is one unit of the DeepFake-ECG GAN's output 6 mV? Compared with PTB-XL's real records.

The package writes ``output * 6000`` as integers without naming the unit. We generate N records with
``threekg.synth.deepfake`` (read as ``output * MV_PER_UNIT`` mV) and measure, per independent lead,
the same amplitudes on both sides and on PTB-XL's 500 Hz records (all of ``../shared/data/ptbxl-500``,
and the NORM-only subset: records whose diagnostic statements are all of superclass NORM):

* swing: 99.5th minus 0.5th percentile of the 0.5-40 Hz band-passed lead (mV), median over records;
* R: per beat, the maximum within +-50 ms of the detected QRS minus the median of the 120-60 ms
  before it (PR-segment baseline), median over beats, then over records (mV). QRS detection: peaks
  of the 5-20 Hz spatial magnitude of the 8 leads above 35 % of its 99th percentile, >= 300 ms apart;
* heart rate (bpm) from the same detections, and the lead II / lead I swing ratio (unit-free: checks
  the lead order, not the scale).

A ratio PTB-XL / DeepFake near 1 on every lead supports 6 mV per unit; a MUSE-style 4.88 uV integer
unit would give about 0.2, a mV reading of the integers about 0.001.

    .venv/bin/python benchmarks/deepfake_scale.py --n 512
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import wfdb
from scipy.signal import butter, find_peaks, sosfiltfilt

from threekg.leads import INDEPENDENT_INDEX, INDEPENDENT_LEADS
from threekg.synth.deepfake import MV_PER_UNIT, extra_installed, generate_deepfake, load_generator

FS = 500.0
PTBXL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ptbxl-500"


def measure(x: np.ndarray) -> dict[str, np.ndarray]:
    """x: (n, 8, T) mV at 500 Hz -> swing (n, 8), r_amp (n, 8), hr (n,)."""
    band = sosfiltfilt(butter(2, [0.5, 40.0], btype="band", fs=FS, output="sos"), x, axis=-1)
    swing = np.percentile(band, 99.5, axis=-1) - np.percentile(band, 0.5, axis=-1)
    qrs = np.sqrt((sosfiltfilt(butter(2, [5.0, 20.0], btype="band", fs=FS, output="sos"), x, axis=-1) ** 2).sum(1))
    r_amp, hr = np.full(swing.shape, np.nan), np.full(len(x), np.nan)
    for i in range(len(x)):
        peaks, _ = find_peaks(qrs[i], height=0.35 * np.percentile(qrs[i], 99), distance=int(0.3 * FS))
        peaks = peaks[(peaks > 0.2 * FS) & (peaks < x.shape[-1] - 0.2 * FS)]
        if len(peaks) < 3:
            continue
        hr[i] = 60.0 * FS / np.median(np.diff(peaks))
        beats = [band[i, :, p - 25:p + 25].max(-1) - np.median(band[i, :, p - 60:p - 30], axis=-1) for p in peaks]
        r_amp[i] = np.median(beats, axis=0)
    return {"swing": swing, "r_amp": r_amp, "hr": hr}


def ptbxl() -> tuple[np.ndarray, np.ndarray]:
    """(500, 8, 5000) mV and a NORM-only mask, from ../shared/data/ptbxl-500/records500."""
    db = pd.read_csv(PTBXL / "ptbxl_database.csv", index_col="ecg_id")
    st = pd.read_csv(PTBXL / "scp_statements.csv", index_col=0)
    diag = st[st["diagnostic"] == 1]["diagnostic_class"].to_dict()
    signals, norm = [], []
    for _, row in db.iterrows():
        signals.append(wfdb.rdrecord(str(PTBXL / row["filename_hr"])).p_signal.T[list(INDEPENDENT_INDEX)])
        classes = {diag[c] for c in ast.literal_eval(row["scp_codes"]) if c in diag}
        norm.append(classes == {"NORM"})
    return np.stack(signals), np.array(norm)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=512, help="DeepFake records (default 512)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not extra_installed() or not PTBXL.is_dir():
        sys.exit(f"needs the threekg[deepfake] extra and {PTBXL}")
    net = load_generator()
    fake = measure(generate_deepfake(range(args.n), args.seed, FS, net)[:, list(INDEPENDENT_INDEX)])
    real, norm = ptbxl()
    everyone = measure(real)
    normal = {k: v[norm] for k, v in everyone.items()}
    print(f"DeepFake: {args.n} records, seed {args.seed}, {MV_PER_UNIT:g} mV per unit; "
          f"PTB-XL: {len(real)} records, {int(norm.sum())} NORM-only")
    print("\nmedian over records, mV; ratio = PTB-XL / DeepFake")
    print("| lead | swing DeepFake | swing PTB-XL (ratio) | swing NORM (ratio) | R DeepFake | R PTB-XL (ratio) | R NORM (ratio) |")
    print("|---|---|---|---|---|---|---|")
    for j, lead in enumerate(INDEPENDENT_LEADS):
        cells = [lead]
        for key in ("swing", "r_amp"):
            f = np.nanmedian(fake[key][:, j])
            a, b = np.nanmedian(everyone[key][:, j]), np.nanmedian(normal[key][:, j])
            cells += [f"{f:.2f}", f"{a:.2f} ({a / f:.2f})", f"{b:.2f} ({b / f:.2f})"]
        print("| " + " | ".join(cells) + " |")
    for name, m in (("DeepFake", fake), ("PTB-XL", everyone), ("PTB-XL NORM", normal)):
        gm = np.exp(np.mean(np.log(np.nanmedian(m["swing"], axis=0) / np.nanmedian(fake["swing"], axis=0))))
        q = np.nanpercentile(m["hr"], [25, 50, 75])
        r = np.nanpercentile(m["swing"][:, 1] / m["swing"][:, 0], [25, 50, 75])
        print(f"{name}: heart rate median {q[1]:.0f} bpm (IQR {q[0]:.0f}-{q[2]:.0f}); swing II/I median {r[1]:.2f} "
              f"(IQR {r[0]:.2f}-{r[2]:.2f}); geometric mean over leads of the swing ratio to DeepFake {gm:.2f}")


if __name__ == "__main__":
    main()
