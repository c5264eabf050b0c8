"""Calibrate the normal dipole template against real ECGs (the numbers in :data:`template.NORMAL_A`).

The published template (method.md section 6) gives P and T waves about twice too large in V1-V4 and
an R/S progression that is already positive in V2. This module fits the 30 Gaussian amplitudes so that
the template beat's per-lead amplitudes match the medians of real normal ECGs measured by the realism
measure (:mod:`threekg.synth.realism`): P and T (signed extreme) and QRS peak-to-peak in the 12 leads,
R/(R+S) in V1-V6 and the frontal P, QRS and T axes (net areas in I and aVF), each residual divided by
the real interquartile range, plus a weak pull towards
the published amplitudes (``scipy.optimize.least_squares``, group by group, with random restarts; the
late U-wave columns are kept). The template's
features are read on one noise-free beat at 68 bpm, band-passed 0.5-40 Hz like the measure, in fixed
windows (P: R-260..R-60 ms, QRS: R-50..R+60 ms, T: R+100..R+420 ms).

The measure reads a generated population, not one template beat (patients vary, NeuroKit2 puts the
windows elsewhere); ``--synth`` closes that gap by one fixed-point step: each target moves by the
difference between the template beat's value and the generated population's median.

    threekg realism SYNTH PTBXL --synth-select =NSR --real-select NORM --out R --no-cnn
    python -m threekg.synth.calibrate R/features_real.csv --synth R/features_synth.csv

prints the amplitudes to paste into ``template.NORMAL_A`` (derived from PTB-XL, CC BY 4.0: numbers
only, no signal is kept).
"""

from __future__ import annotations

import argparse
from functools import cache

import numpy as np
import pandas as pd
from scipy.optimize import least_squares
from scipy.signal import butter, sosfiltfilt

from threekg.leads import LEADS
from threekg.synth import template as tp
from threekg.vcg import vcg_to_ecg

FS = 500.0
RR_S = 0.88
TARGETS: tuple[str, ...] = (*(f"{k}_{lead}" for k in ("p_amp_mv", "qrs_amp_mv", "t_amp_mv") for lead in LEADS),
                            *(f"rs_ratio_V{i}" for i in range(1, 7)), "p_axis_deg", "qrs_axis_deg", "t_axis_deg")
"""The features the amplitudes are fitted to."""
PRIOR_WEIGHT = 0.02
"""Pull towards the published amplitudes, per 0.1 mV, relative to one real IQR of a feature."""


FIXED = tp.PUBLISHED_T > 2.7 / (2 * np.pi)
"""The late (U-wave) columns keep their published amplitudes: the fit would otherwise use them to shape
the end of the T window."""


@cache
def _basis() -> tuple[np.ndarray, int]:
    """Gaussians (30, T) of a 6-beat periodic stretch at RR_S and the middle R sample."""
    t = np.arange(0.0, 6 * RR_S, 1 / FS)
    centre, sigma, _ = tp.normal_timing(np.array([RR_S]), 1.0, 0.0, 1.0, 0.40)
    g = np.zeros((tp.N_NORMAL, len(t)))
    for k in range(-1, 8):
        g += np.exp(-0.5 * ((t[None, :] - k * RR_S - centre[0][:, None]) / sigma[0][:, None]) ** 2)
    return g, round(3 * RR_S * FS)


def template_features(amplitudes: np.ndarray) -> pd.Series:
    """The :data:`TARGETS` of one noise-free template beat with column ``amplitudes`` (30,) mV."""
    g, r0 = _basis()
    vcg = np.zeros((3, g.shape[1]))
    for ax in range(3):
        vcg[ax] = amplitudes[tp.NORMAL_AXIS == ax] @ g[tp.NORMAL_AXIS == ax]
    ecg = sosfiltfilt(butter(2, (0.5, 40.0), btype="band", fs=FS, output="sos"), vcg_to_ecg(vcg), axis=1)

    def win(a: float, b: float) -> np.ndarray:
        return ecg[:, r0 + round(a * FS) : r0 + round(b * FS)]

    rel = win(-0.26, 0.42) - np.median(win(-0.07, -0.045), axis=1, keepdims=True)
    off = round(0.26 * FS)
    p, q, t = (rel[:, off + round(a * FS) : off + round(b * FS)] for a, b in ((-0.26, -0.06), (-0.05, 0.06),
                                                                          (0.10, 0.42)))
    out = {}
    for i, lead in enumerate(LEADS):
        out[f"p_amp_mv_{lead}"] = p[i, np.argmax(np.abs(p[i]))]
        out[f"qrs_amp_mv_{lead}"] = np.ptp(q[i])
        out[f"t_amp_mv_{lead}"] = t[i, np.argmax(np.abs(t[i]))]
    for v in range(1, 7):
        i = LEADS.index(f"V{v}")
        r, s = max(q[i].max(), 0.0), max(-q[i].min(), 0.0)
        out[f"rs_ratio_V{v}"] = r / (r + s) if r + s > 0 else 0.0
    i, f = LEADS.index("I"), LEADS.index("aVF")
    for name, seg in (("p", p), ("qrs", q), ("t", t)):
        out[f"{name}_axis_deg"] = float(np.degrees(np.arctan2(seg[f].sum(), seg[i].sum())))
    return pd.Series(out)[list(TARGETS)]


def fit_amplitudes(target: pd.Series, scale: pd.Series, start: np.ndarray, restarts: int = 6,
                   seed: int = 0) -> np.ndarray:
    """Amplitudes (30,) whose template features best match ``target`` (residuals / ``scale``).

    Group by group (P, then QRS, then T), each from ``start`` and ``restarts`` random perturbations of
    it; finite differences with 0.1 % steps step over the kinks of the peak-picking features.
    """
    rng = np.random.default_rng(seed)
    a = np.asarray(start, dtype=float).copy()
    for group in (tp.P, tp.QRS, tp.T):
        mask = (tp.NORMAL_GROUP == group) & ~FIXED

        def residuals(x: np.ndarray, mask: np.ndarray = mask) -> np.ndarray:
            trial = a.copy()
            trial[mask] = x
            fit = ((template_features(trial) - target) / scale).to_numpy()
            return np.r_[fit, PRIOR_WEIGHT * (x - tp.PUBLISHED_A[mask]) / 0.1]

        starts = [a[mask]] + [a[mask] * rng.uniform(0.6, 1.4, mask.sum()) + rng.normal(0, 0.03, mask.sum())
                              for _ in range(restarts)]
        best = min((least_squares(residuals, x0, method="trf", diff_step=1e-3, x_scale=0.05, max_nfev=3000)
                    for x0 in starts), key=lambda r: r.cost)
        a[mask] = best.x
    return a


def _features(path: str) -> pd.DataFrame:
    """The calibration targets' columns of a features CSV of ``threekg realism``; ValueError naming the file."""
    table = pd.read_csv(path, index_col=0)
    missing = [c for c in TARGETS if c not in table.columns]
    if missing:
        raise ValueError(f"{path}: no column {', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''} "
                         "(expected features_real.csv / features_synth.csv of threekg realism)")
    return table[list(TARGETS)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("real", help="features of real normal ECGs (features_real.csv of threekg realism)")
    parser.add_argument("--synth", default=None,
                        help="features of records generated with the current template (features_synth.csv)")
    args = parser.parse_args(argv)
    real = _features(args.real)
    med = real.median()
    scale = (real.quantile(0.75) - real.quantile(0.25)).clip(lower=0.01)
    target = med
    if args.synth:
        synth = _features(args.synth).median()
        target = med + (template_features(tp.NORMAL_A) - synth)
    amps = fit_amplitudes(target, scale, start=tp.NORMAL_A)
    z = (template_features(amps) - target) / scale
    print(f"largest |residual| / IQR: {np.abs(z).max():.2f} ({z.abs().idxmax()}); "
          f"{int((z.abs() > 0.5).sum())} of {len(z)} beyond 0.5")
    print("CALIBRATED_A = np.array([" + ", ".join(f"{v:.4f}" for v in amps) + "])")
    return 0


if __name__ == "__main__":
    from threekg.errors import run_tool

    raise SystemExit(run_tool(main))
