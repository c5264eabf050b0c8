"""A statistical shape model of the normal 12-lead beat, fitted on real PTB-XL NORM median beats.

How the field builds realistic beat simulators: the median beat of every real normal record,
aligned at its R peak and time-normalised, then a low-rank model of them (mean + K principal
components with their variances). A synthetic patient is one draw of the K component scores.

* Beats: NeuroKit2 finds the R peaks (``ecg_clean`` + ``ecg_peaks`` on lead II); the 8 independent
  leads (I, II, V1-V6), band-passed 0.5-100 Hz, are read on a normalised time grid ``tau`` (s from
  R at 60 bpm, 2 ms steps) with the generator's own time bases (:mod:`threekg.synth.template`): the
  atrial part (tau < -0.05 s) scaled by RR^0.1, the QRS as it is, the ST-T stretched from the J point
  by sqrt(RR) (Bazett). The median over the beats of the record is the record's beat; its baseline is
  the straight line through the first and last 20 ms (TP segment: before the P, after the T).
* P registration: PR differs between records, and a mean of P waves at different places is a wide, low
  P. So the atrial part of every beat (weighted by a raised cosine that hands over to the QRS at
  -60..-40 ms) is moved so that its energy centroid lies at the training records' mean; the moves'
  s.d. is kept and a patient's P is moved back by a draw from it (``p_shift_s``).
* Model: mean and the first ``K`` principal components (SVD of the centred beats; each component's
  sign fixed so that its largest loading is positive) with the s.d. of their scores.
* Fitted on the NORM records (every ``scp_codes`` statement counts, as ``threekg prepare`` reads them)
  of the folds given (default strat_fold 1-7, so 8-10 stay held out for the realism measure).

The shipped file (``shape_model.npz`` next to this module) holds only these derived statistics, no
record; PTB-XL (Wagner et al. 2020, PhysioNet) is CC BY 4.0. It is rebuilt with

    python -m threekg.synth.shape_model build ../shared/data/ptbxl-500 --out src/threekg/synth/shape_model.npz
"""

from __future__ import annotations

import argparse
import ast
import os
import warnings
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from threekg.leads import INDEPENDENT_LEADS, normalise_lead_name

MODEL_PATH = Path(__file__).with_name("shape_model.npz")
DTAU_S = 0.002
TAU_S: np.ndarray = np.round(np.arange(-0.28, 0.52 + 1e-9, DTAU_S), 6)
"""The normalised time grid (s from the R peak at 60 bpm), (L,)."""
P_END_TAU_S = -0.05
"""Where the atrial time base hands over to the ventricular one (in the PR segment)."""
J_TAU_S = 0.04
"""J point of the time normalisation (same as :data:`threekg.synth.template.J_POINT_S`)."""
BASELINE_S = 0.02
DEFAULT_COMPONENTS = 20
DEFAULT_WITHIN_COMPONENTS = 12
DEFAULT_FOLDS = (1, 2, 3, 4, 5, 6, 7)
BAND_HZ = (0.5, 100.0)


def beat_time(tau: np.ndarray, rr: float) -> np.ndarray:
    """Time (s from R) of normalised time ``tau`` (s) in a beat whose preceding RR is ``rr`` s."""
    tau = np.asarray(tau, dtype=float)
    return np.where(tau < P_END_TAU_S, tau * rr**0.1,
                    np.where(tau <= J_TAU_S, tau, J_TAU_S + (tau - J_TAU_S) * np.sqrt(rr)))


def record_beats(ecg8: np.ndarray, fs: float, lead_ii: int = 1) -> tuple[np.ndarray, float]:
    """Every complete beat of a record on the normalised grid, (B, 8, L) mV, and its mean RR (s).

    ``ecg8``: (8, T) mV, :data:`threekg.leads.INDEPENDENT_LEADS` order. Raises ValueError when fewer
    than 4 complete beats are found.
    """
    import neurokit2 as nk
    from scipy.signal import butter, sosfiltfilt

    sos = butter(2, BAND_HZ, btype="band", fs=fs, output="sos")
    x = sosfiltfilt(sos, ecg8, axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clean = nk.ecg_clean(ecg8[lead_ii], sampling_rate=int(fs))
        _, info = nk.ecg_peaks(clean, sampling_rate=int(fs))
    peaks = np.asarray(info["ECG_R_Peaks"], dtype=int)
    if len(peaks) < 5:
        raise ValueError(f"only {len(peaks)} R peaks found")
    rr = np.diff(peaks) / fs
    n = x.shape[1]
    grid = np.arange(n)
    beats = []
    for k in range(1, len(peaks)):
        t = peaks[k] + beat_time(TAU_S, float(rr[k - 1])) * fs
        if t[0] < 0 or t[-1] > n - 1:
            continue
        beats.append(np.stack([np.interp(t, grid, lead) for lead in x]))
    if len(beats) < 4:
        raise ValueError(f"only {len(beats)} complete beats")
    return np.stack(beats), float(np.mean(rr))


def remove_baseline(beat: np.ndarray) -> np.ndarray:
    """A beat (..., 8, L) less the straight line through its first and last 20 ms (TP segment)."""
    m = round(BASELINE_S / DTAU_S)
    start, end = beat[..., :m].mean(axis=-1), beat[..., -m:].mean(axis=-1)
    w = np.linspace(0.0, 1.0, beat.shape[-1])
    return beat - (start[..., None] * (1 - w) + end[..., None] * w)


def median_beat(ecg8: np.ndarray, fs: float, lead_ii: int = 1) -> tuple[np.ndarray, float]:
    """The record's normalised median beat (8, L) mV and its mean RR (s) (see :func:`record_beats`)."""
    beats, rr = record_beats(ecg8, fs, lead_ii)
    return remove_baseline(np.median(beats, axis=0)), rr


def within_residuals(beats: np.ndarray) -> np.ndarray:
    """What varies from beat to beat in a record beyond a gain: each beat (baseline removed) less its
    least-squares multiple of the median beat, (B, 8, L). The generator makes the gains itself
    (breathing, random size)."""
    own = remove_baseline(beats)
    med = remove_baseline(np.median(beats, axis=0))
    gain = np.tensordot(own, med, axes=2) / float(np.sum(med**2))
    return own - gain[:, None, None] * med


def norm_records(ptbxl: Path, folds: tuple[int, ...]) -> pd.DataFrame:
    """The rows of ``ptbxl_database.csv`` labelled NORM (any likelihood) in ``folds``, by ecg_id."""
    db = pd.read_csv(ptbxl / "ptbxl_database.csv", index_col="ecg_id")
    norm = db["scp_codes"].map(lambda s: "NORM" in ast.literal_eval(s))
    return db[norm & db["strat_fold"].isin(folds)].sort_index()


def _read_8(path: Path) -> tuple[np.ndarray, float]:
    import wfdb

    signal, fields = wfdb.rdsamp(str(path))
    names = [normalise_lead_name(s) for s in fields["sig_name"]]
    missing = [lead for lead in INDEPENDENT_LEADS if lead not in names]
    if missing:
        raise ValueError(f"{path}: leads {missing} missing")
    idx = [names.index(lead) for lead in INDEPENDENT_LEADS]
    return np.asarray(signal, dtype=float).T[idx], float(fields["fs"])


def atrial_weight(tau: np.ndarray = TAU_S) -> np.ndarray:
    """Weight (L,) of the atrial part of the beat: 1 before -60 ms, raised cosine to 0 at -40 ms."""
    x = np.clip((tau - (P_END_TAU_S - 0.01)) / 0.02, 0.0, 1.0)
    return 0.5 + 0.5 * np.cos(np.pi * x)


def p_centroid(beat: np.ndarray) -> float:
    """Energy centroid (s, normalised time) of the atrial part of a beat (8, L)."""
    energy = np.sum(beat**2, axis=0) * atrial_weight()
    return float(np.sum(TAU_S * energy) / np.sum(energy))


def shift_p(beat: np.ndarray, shift: float) -> np.ndarray:
    """The beat (8, L) with its atrial part moved ``shift`` s later (the rest unchanged)."""
    w = atrial_weight()
    atrial = beat * w
    moved = np.stack([np.interp(TAU_S - shift, TAU_S, lead, left=0.0, right=0.0) for lead in atrial])
    return beat - atrial + moved


@dataclass(frozen=True)
class ShapeModel:
    """Mean beat (8, L) mV, components (K, 8, L) (unit norm), score s.d. (K,), the s.d. of the P moves
    (s), provenance, and the beat-to-beat variation within a record: components (W, 8, L) (unit norm)
    of :func:`within_residuals` pooled over the records, their score s.d. (W,) and the s.d. of the log of
    a record's own scale (RMS of its standardised scores): their mean and s.d."""

    mean: np.ndarray
    components: np.ndarray
    sd: np.ndarray
    p_shift_sd: float
    n_records: int
    folds: tuple[int, ...]
    within_components: np.ndarray
    within_sd: np.ndarray
    within_scale_mean: float
    within_scale_sd: float

    def beat(self, scores: np.ndarray, p_score: float) -> np.ndarray:
        """The beat (8, L) mV of standard-normal component ``scores`` (K,) and P-move score ``p_score``."""
        beat = self.mean + np.tensordot(np.asarray(scores) * self.sd, self.components, axes=1)
        return shift_p(beat, p_score * self.p_shift_sd)


def fit(beats: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean (8, L), K components (K, 8, L) and score s.d. (K,) of beats (N, 8, L), by SVD."""
    n = beats.shape[0]
    flat = beats.reshape(n, -1)
    mean = flat.mean(axis=0)
    _, s, vt = np.linalg.svd(flat - mean, full_matrices=False)
    k = min(k, n - 1)
    comp = vt[:k]
    sign = np.sign(comp[np.arange(k), np.argmax(np.abs(comp), axis=1)])
    comp = comp * sign[:, None]
    sd = s[:k] / np.sqrt(n - 1)
    return mean.reshape(beats.shape[1:]), comp.reshape(k, *beats.shape[1:]), sd


def fit_within(residuals: list[np.ndarray], k: int) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Components (K, 8, L), score s.d. (K,) about zero, and the mean and s.d. of the log record scale, of
    the per-record beat residuals (each (B_i, 8, L))."""
    pooled = np.concatenate(residuals)
    flat = pooled.reshape(len(pooled), -1)
    _, s, vt = np.linalg.svd(flat, full_matrices=False)
    k = min(k, len(flat) - 1)
    comp = vt[:k]
    sign = np.sign(comp[np.arange(k), np.argmax(np.abs(comp), axis=1)])
    comp = comp * sign[:, None]
    sd = s[:k] / np.sqrt(len(flat))
    scales = [np.sqrt(np.mean(((r.reshape(len(r), -1) @ comp.T) / sd) ** 2)) for r in residuals]
    logs = np.log(scales)
    return comp.reshape(k, *pooled.shape[1:]), sd, float(np.mean(logs)), float(np.std(logs, ddof=1))


def build(ptbxl: Path, folds: tuple[int, ...] = DEFAULT_FOLDS, k: int = DEFAULT_COMPONENTS,
          limit: int | None = None, verbose: bool = False, k_within: int = DEFAULT_WITHIN_COMPONENTS) -> ShapeModel:
    """Fit the model on the NORM records of ``folds`` of a PTB-XL folder (500 Hz records).

    A record NeuroKit2 cannot find enough beats in is skipped with a one-line reason (``verbose``).
    """
    rows = norm_records(ptbxl, folds)
    if limit is not None:
        rows = rows.iloc[:limit]
    beats, residuals = [], []
    for ecg_id, row in rows.iterrows():
        path = ptbxl / str(row["filename_hr"])
        try:
            ecg8, fs = _read_8(path)
            own, _ = record_beats(ecg8, fs)
        except (ValueError, OSError) as err:
            if verbose:
                print(f"skipped {path}: {err}")
            continue
        beats.append(remove_baseline(np.median(own, axis=0)))
        residuals.append(within_residuals(own))
        if verbose and len(beats) % 25 == 0:
            print(f"{len(beats)} beats ({ecg_id})")
    if len(beats) < 3:
        raise ValueError(f"{ptbxl}: only {len(beats)} NORM records usable in folds {folds}")
    centroids = np.array([p_centroid(b) for b in beats])
    moves = centroids.mean() - centroids
    registered = np.stack([shift_p(b, d) for b, d in zip(beats, moves, strict=True)])
    mean, comp, sd = fit(registered, k)
    w_comp, w_sd, w_mean, w_scale = fit_within(residuals, k_within)
    return ShapeModel(mean, comp, sd, float(np.std(moves, ddof=1)), len(beats), tuple(folds), w_comp, w_sd, w_mean,
                      w_scale)


def save(model: ShapeModel, path: Path) -> None:
    """Write the model as a compressed .npz (float32 arrays), atomically: a stopped build leaves the
    previous file (the shipped model, by default) as it was."""
    tmp = path.with_name(path.name + ".partial.npz")
    np.savez_compressed(tmp, mean=model.mean.astype(np.float32), components=model.components.astype(np.float32),
                        sd=model.sd.astype(np.float32), tau=TAU_S.astype(np.float32),
                        p_shift_sd=np.float64(model.p_shift_sd),
                        n_records=np.int64(model.n_records), folds=np.asarray(model.folds, dtype=np.int64),
                        within_components=model.within_components.astype(np.float32),
                        within_sd=model.within_sd.astype(np.float32),
                        within_scale_mean=np.float64(model.within_scale_mean), within_scale_sd=np.float64(model.within_scale_sd))
    os.replace(tmp, path)


def load(path: Path = MODEL_PATH) -> ShapeModel:
    """Read a model written by :func:`save`."""
    with np.load(path) as z:
        if not np.allclose(z["tau"], TAU_S, atol=1e-6):
            raise ValueError(f"{path}: time grid differs from this version's")
        return ShapeModel(z["mean"].astype(float), z["components"].astype(float), z["sd"].astype(float),
                          float(z["p_shift_sd"]), int(z["n_records"]), tuple(int(f) for f in z["folds"]),
                          z["within_components"].astype(float), z["within_sd"].astype(float),
                          float(z["within_scale_mean"]), float(z["within_scale_sd"]))


@cache
def default_model() -> ShapeModel:
    """The shipped model (fitted on PTB-XL-500 NORM, strat_fold 1-7)."""
    return load(MODEL_PATH)


def fold_list(text: str, option: str) -> tuple[int, ...]:
    """``"1,2,3"`` -> (1, 2, 3); ValueError naming ``option`` otherwise."""
    try:
        return tuple(int(f) for f in text.split(","))
    except ValueError:
        raise ValueError(f"{option} {text!r}: expected comma-separated strat_fold numbers, e.g. 1,2,3") from None


def build_parser(description: str | None, default_out: Path) -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    """The ``build PTBXL [--out] [--folds]`` command line of a model fitted on PTB-XL (this module's and
    :mod:`threekg.synth.levels`'): the parser and its ``build`` sub-parser, for more options."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="fit the model on a PTB-XL folder")
    b.add_argument("ptbxl", type=Path, help="PTB-XL folder (ptbxl_database.csv, records500/)")
    b.add_argument("--out", type=Path, default=default_out, help="output .npz (default: the shipped file)")
    b.add_argument("--folds", default=",".join(map(str, DEFAULT_FOLDS)), help="strat_folds to fit on")
    return parser, b


def main(argv: list[str] | None = None) -> int:
    parser, b = build_parser(__doc__, MODEL_PATH)
    b.add_argument("--components", type=int, default=DEFAULT_COMPONENTS, help="principal components kept")
    b.add_argument("--within-components", type=int, default=DEFAULT_WITHIN_COMPONENTS,
                   help="principal components of the beat-to-beat variation kept")
    args = parser.parse_args(argv)
    folds = fold_list(args.folds, "--folds")
    model = build(args.ptbxl, folds, args.components, verbose=True, k_within=args.within_components)
    save(model, args.out)
    total = float(np.sum(model.sd**2))
    print(f"{model.n_records} records, {len(model.sd)} components, score s.d. {model.sd[0]:.3g}..{model.sd[-1]:.3g} "
          f"(sum of variances {total:.3g}), P moves s.d. {1000 * model.p_shift_sd:.1f} ms; beat-to-beat: score s.d. {model.within_sd[0]:.3g}.."
          f"{model.within_sd[-1]:.3g}, log record scale s.d. {model.within_scale_sd:.2f}; written to {args.out}")
    return 0


if __name__ == "__main__":
    from threekg.errors import run_tool

    raise SystemExit(run_tool(main))
