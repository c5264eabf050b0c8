"""Per-record ECG features from NeuroKit2's delineation (the realism measure's only measuring device).

NeuroKit2 finds everything that is a fiducial point; this module only reads the signal at those
points. For a (12, T) record in mV (:data:`threekg.leads.LEADS` order):

1. ``nk.ecg_clean`` every lead (0.5 Hz high-pass, powerline filter);
   ``nk.ecg_peaks`` on lead II (then V5, V2, I if II gives fewer than 4 beats or a rate outside
   25-250 bpm) gives the R peaks shared by every lead; peaks within 0.3 s of either end are dropped.
2. ``nk.ecg_delineate(method="prominence")`` on every lead gives the QRS onset and offset per lead
   (NeuroKit's ``R_Onsets``/``R_Offsets``: the bases of the R peak's prominence, close to the Q and S
   peaks); ``nk.ecg_delineate(method="dwt")`` on :data:`DWT_LEADS` gives the P and T onsets and
   offsets (the DWT method's QRS onset is unusable: it falls near the P wave, NeuroKit issue #1042).
3. Global fiducials per beat are medians across leads; amplitudes are read on the 0.5-40 Hz band
   (Butterworth order 2, zero phase; NeuroKit's cleaned signal is smoothed by a 20 ms moving average),
   relative to the PR-segment baseline (median of the 40-15 ms before the QRS onset); a lead's QRS
   amplitude is read between its own QRS bounds joined with the global ones.

Features (one value per record, medians over beats unless said otherwise; see :data:`FEATURES`):
amplitudes per lead (P and T signed extreme, QRS peak-to-peak), QRS duration per lead, P and T
duration on the DWT leads, R/(R+S) in V1-V6, heart rate, PR, QRS, QT, QTc (Bazett), P duration,
T duration, frontal P, QRS and T axes (net areas in I and aVF), RR coefficient of variation and
normalised RMSSD, beat-to-beat correlation with the median beat, beat-to-beat QRS and T amplitude
coefficients of variation, and noise levels on the raw signal (baseline wander, muscle band,
high band, powerline).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from scipy.signal import butter, sosfiltfilt

from threekg.leads import LEADS

MEASURE_VERSION = 2
"""Bumped whenever a feature's definition changes (measurement journals of another version are not reused)."""
DWT_LEADS: tuple[str, ...] = ("II", "V2", "V5")
"""Leads delineated with NeuroKit's DWT method (P and T boundaries); 0.4 s per lead at 500 Hz."""
PEAK_LEADS: tuple[str, ...] = ("II", "V5", "V2", "I")
"""Leads tried in turn for ``nk.ecg_peaks``."""
PRECORDIAL: tuple[str, ...] = ("V1", "V2", "V3", "V4", "V5", "V6")
MIN_BEATS = 4
EDGE_S = 0.3
"""R peaks this close (s) to either end are dropped: their beat is cut, and at the end of a record
``nk.ecg_peaks`` also marks the P wave of the next, missing beat."""

GLOBAL_FEATURES: tuple[str, ...] = (
    "hr_bpm", "pr_ms", "qrs_ms", "qt_ms", "qtc_ms", "p_dur_ms", "t_dur_ms",
    "p_axis_deg", "qrs_axis_deg", "t_axis_deg",
    "rr_cv", "rmssd_norm", "beat_corr", "qrs_amp_cv", "t_amp_cv",
    "wander_mv", "wander_p2p_mv", "muscle_mv", "hf_noise_mv", "powerline_mv",
)
"""Record-level features (units in the name: bpm, ms, deg, mV; cv/norm/corr dimensionless)."""


def lead_features(dwt_leads: tuple[str, ...] = DWT_LEADS) -> tuple[str, ...]:
    """Per-lead feature names: amplitudes and QRS duration of every lead, P/T durations of the DWT leads."""
    names = [f"{kind}_{lead}" for kind in ("p_amp_mv", "qrs_amp_mv", "t_amp_mv", "qrs_dur_ms") for lead in LEADS]
    names += [f"{kind}_{lead}" for kind in ("p_dur_ms", "t_dur_ms") for lead in dwt_leads]
    names += [f"rs_ratio_{lead}" for lead in PRECORDIAL]
    return tuple(names)


FEATURES: tuple[str, ...] = GLOBAL_FEATURES + lead_features()
"""Every feature of :func:`record_features` with the default DWT leads, in table order."""


class DelineationError(Exception):
    """NeuroKit2 could not delineate a record; the message is the one-line reason."""


def _sos(fs: float, kind: str, freq: float | tuple[float, float], order: int = 4) -> np.ndarray:
    return butter(order, freq, btype=kind, fs=fs, output="sos")


def noise_features(ecg: np.ndarray, fs: float) -> dict[str, float]:
    """Noise levels of a raw (12, T) record, mV.

    * ``wander_mv``: median over leads of the standard deviation below 0.5 Hz;
    * ``wander_p2p_mv``: largest peak-to-peak below 0.5 Hz over leads (electrode motion, steps);
    * ``muscle_mv``: median over leads of the robust s.d. (1.4826 MAD) in the 20-45 Hz band;
    * ``hf_noise_mv``: the same in 70 Hz to 0.45 fs (empty, NaN, below 160 Hz sampling);
    * ``powerline_mv``: median over leads of the sinusoid amplitude at 50 or 60 Hz (the larger).
    """
    x = ecg - np.median(ecg, axis=1, keepdims=True)
    low = sosfiltfilt(_sos(fs, "lowpass", 0.5, 2), x, axis=1)
    out = {"wander_mv": float(np.median(low.std(axis=1))), "wander_p2p_mv": float(np.ptp(low, axis=1).max())}
    band = sosfiltfilt(_sos(fs, "bandpass", (20.0, 45.0)), x, axis=1)
    out["muscle_mv"] = float(np.median(1.4826 * np.median(np.abs(band), axis=1)))
    if fs >= 160:
        hf = sosfiltfilt(_sos(fs, "bandpass", (70.0, 0.45 * fs)), x, axis=1)
        out["hf_noise_mv"] = float(np.median(1.4826 * np.median(np.abs(hf), axis=1)))
    else:
        out["hf_noise_mv"] = float("nan")
    n = x.shape[1]
    t = np.arange(n) / fs
    amps = []
    for hz in (50.0, 60.0):
        if hz < fs / 2:
            basis = np.exp(-2j * np.pi * hz * t)
            amps.append(float(np.median(2.0 * np.abs(x @ basis) / n)))
    out["powerline_mv"] = max(amps) if amps else float("nan")
    return out


def _rpeaks(clean: dict[str, np.ndarray], fs: float) -> np.ndarray:
    import neurokit2 as nk

    last = "no lead tried"
    for lead in PEAK_LEADS:
        try:
            _, info = nk.ecg_peaks(clean[lead], sampling_rate=fs)
        except Exception as exc:  # NeuroKit raises many kinds; the reason is reported
            last = f"ecg_peaks failed on {lead}: {type(exc).__name__}: {exc}"
            continue
        r = np.asarray(info["ECG_R_Peaks"], dtype=np.int64)
        n = len(clean[lead])
        r = r[(r >= EDGE_S * fs) & (r < n - EDGE_S * fs)]
        if len(r) >= MIN_BEATS:
            hr = 60.0 * fs / float(np.median(np.diff(r)))
            if 25.0 <= hr <= 250.0:
                return r
            last = f"ecg_peaks on {lead}: implausible rate {hr:.0f} bpm"
        else:
            last = f"ecg_peaks on {lead}: {len(r)} beats (< {MIN_BEATS})"
    raise DelineationError(last)


def _delineate(signal: np.ndarray, r: np.ndarray, fs: float, method: str) -> dict[str, np.ndarray]:
    """NeuroKit's waves as float arrays aligned with ``r`` (NaN where a wave was not found)."""
    import neurokit2 as nk

    _, waves = nk.ecg_delineate(signal, r, sampling_rate=fs, method=method)
    out = {}
    for key, values in waves.items():
        arr = np.asarray(values, dtype=float)
        if len(arr) != len(r):
            raise DelineationError(f"ecg_delineate({method}) returned {len(arr)} {key} for {len(r)} beats")
        out[key.removeprefix("ECG_")] = arr
    return out


def _nanmedian(a: np.ndarray, axis: int | None = None) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmedian(a, axis=axis)


def _window(x: np.ndarray, lo: float, hi: float) -> np.ndarray | None:
    if not (np.isfinite(lo) and np.isfinite(hi)) or hi <= lo or lo < 0 or hi >= x.shape[-1]:
        return None
    return x[..., int(lo) : int(hi) + 1]


def _signed_extreme(seg: np.ndarray) -> np.ndarray:
    """(..., W) -> (...) the value of largest magnitude, with its sign."""
    idx = np.argmax(np.abs(seg), axis=-1)
    return np.take_along_axis(seg, idx[..., None], axis=-1)[..., 0]


def _axis(area_i: float, area_avf: float) -> float:
    return float(np.degrees(np.arctan2(area_avf, area_i))) if np.isfinite(area_i + area_avf) else float("nan")


def record_features(ecg: np.ndarray, fs: float, dwt_leads: tuple[str, ...] = DWT_LEADS) -> dict[str, float]:
    """Every feature of one record (see the module docstring); NaN where a wave was not found.

    Args:
        ecg: (12, T) mV, LEADS order, T of a few seconds or more.
        fs: sampling rate, Hz.
    Raises:
        DelineationError: no usable R peaks, or NeuroKit2 failed on every delineated lead.
    """
    import neurokit2 as nk

    ecg = np.asarray(ecg, dtype=np.float64)
    if ecg.ndim != 2 or ecg.shape[0] != len(LEADS):
        raise DelineationError(f"expected (12, T) leads x samples, got {ecg.shape}")
    if not np.all(np.isfinite(ecg)):
        raise DelineationError("signal holds NaN or infinite values")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clean_all = np.stack([nk.ecg_clean(lead, sampling_rate=fs) for lead in ecg])
        clean = {name: clean_all[i] for i, name in enumerate(LEADS)}
        r = _rpeaks(clean, fs)
        prom, dwt, errors = {}, {}, []
        for name in LEADS:
            try:
                prom[name] = _delineate(clean[name], r, fs, "prominence")
            except Exception as exc:
                errors.append(f"prominence {name}: {type(exc).__name__}: {exc}")
        for name in dwt_leads:
            try:
                dwt[name] = _delineate(clean[name], r, fs, "dwt")
            except Exception as exc:
                errors.append(f"dwt {name}: {type(exc).__name__}: {exc}")
    if not prom or not dwt:
        raise DelineationError("; ".join(errors[:2]) or "no lead delineated")
    feats: dict[str, float] = {}
    feats.update(_interval_features(prom, dwt, r, fs))
    # NeuroKit's cleaning smooths with a 20 ms moving average (forward and backward) against mains,
    # which takes a third off a QRS; amplitudes and beat shapes are read on a 0.5-40 Hz band instead.
    band = sosfiltfilt(_sos(fs, "bandpass", (0.5, min(40.0, 0.45 * fs)), 2), ecg, axis=1)
    feats.update(_amplitude_features(band, prom, dwt, r, fs))
    feats.update(_variability_features(band, r, fs))
    feats.update(noise_features(ecg, fs))
    feats.update(_duration_features(prom, dwt, fs, dwt_leads))
    return feats


def _global_fiducials(prom: dict[str, dict[str, np.ndarray]], dwt: dict[str, dict[str, np.ndarray]]
                      ) -> dict[str, np.ndarray]:
    """Per-beat fiducials (samples, NaN where unknown): medians across the delineated leads."""
    def med(src: dict[str, dict[str, np.ndarray]], key: str) -> np.ndarray:
        return np.asarray(_nanmedian(np.stack([w[key] for w in src.values()]), axis=0))

    return {"qrs_on": med(prom, "R_Onsets"), "qrs_off": med(prom, "R_Offsets"),
            "p_on": med(dwt, "P_Onsets"), "p_off": med(dwt, "P_Offsets"),
            "t_on": med(dwt, "T_Onsets"), "t_off": med(dwt, "T_Offsets")}


def _interval_features(prom: dict[str, dict[str, np.ndarray]], dwt: dict[str, dict[str, np.ndarray]],
                       r: np.ndarray, fs: float) -> dict[str, float]:
    g = _global_fiducials(prom, dwt)
    ms = 1000.0 / fs
    rr = np.diff(r) / fs
    qt = (g["t_off"] - g["qrs_on"]) * ms
    qt = np.where((qt > 150) & (qt < 700), qt, np.nan)  # a T offset past the next beat is not a QT
    qt_med = float(_nanmedian(qt))
    return {
        "hr_bpm": float(60.0 / rr.mean()),
        "pr_ms": float(_nanmedian((g["qrs_on"] - g["p_on"]) * ms)),
        "qrs_ms": float(_nanmedian((g["qrs_off"] - g["qrs_on"]) * ms)),
        "qt_ms": qt_med,
        "qtc_ms": float(qt_med / np.sqrt(np.median(rr))),
        "p_dur_ms": float(_nanmedian((g["p_off"] - g["p_on"]) * ms)),
        "t_dur_ms": float(_nanmedian((g["t_off"] - g["t_on"]) * ms)),
        "rr_cv": float(rr.std() / rr.mean()),
        "rmssd_norm": float(np.sqrt(np.mean(np.diff(rr) ** 2)) / rr.mean()) if len(rr) > 1 else float("nan"),
    }


def _amplitude_features(clean: np.ndarray, prom: dict[str, dict[str, np.ndarray]],
                        dwt: dict[str, dict[str, np.ndarray]], r: np.ndarray, fs: float) -> dict[str, float]:
    """Per-lead P/QRS/T amplitudes, R/(R+S) in V1-V6, frontal axes, beat-to-beat amplitude variation."""
    g = _global_fiducials(prom, dwt)
    nb, nl = len(r), len(LEADS)
    p_amp, r_amp, s_amp, t_amp = (np.full((nb, nl), np.nan) for _ in range(4))
    areas = np.full((nb, 3, 2), np.nan)  # beat, (P, QRS, T), (I, aVF)
    i_lead, avf = LEADS.index("I"), LEADS.index("aVF")
    for b in range(nb):
        on, off = g["qrs_on"][b], g["qrs_off"][b]
        base_seg = _window(clean, on - 0.04 * fs, on - 0.015 * fs)
        qrs = _window(clean, on, off)
        if base_seg is None or qrs is None:
            continue
        base = np.median(base_seg, axis=1)
        rel = qrs - base[:, None]
        areas[b, 1] = rel[[i_lead, avf]].sum(axis=1)
        for k, name in enumerate(LEADS):  # amplitude window: the lead's own QRS bounds joined with the global ones
            w = prom.get(name)
            lo = np.nanmin([on, w["R_Onsets"][b]]) if w is not None else on
            hi = np.nanmax([off, w["R_Offsets"][b]]) if w is not None else off
            seg = _window(clean[k], lo, hi)
            if seg is not None:
                r_amp[b, k], s_amp[b, k] = seg.max() - base[k], base[k] - seg.min()
        p = _window(clean, g["p_on"][b], g["p_off"][b])
        if p is not None and g["p_off"][b] < on:
            prel = p - base[:, None]
            p_amp[b] = _signed_extreme(prel)
            areas[b, 0] = prel[[i_lead, avf]].sum(axis=1)
        t_lo = g["t_on"][b] if np.isfinite(g["t_on"][b]) else off + 0.04 * fs
        t = _window(clean, max(t_lo, off + 1), g["t_off"][b])
        if t is not None:
            trel = t - base[:, None]
            t_amp[b] = _signed_extreme(trel)
            areas[b, 2] = trel[[i_lead, avf]].sum(axis=1)
    qrs_amp = r_amp + s_amp
    feats: dict[str, float] = {}
    for k, name in enumerate(LEADS):
        feats[f"p_amp_mv_{name}"] = float(_nanmedian(p_amp[:, k]))
        feats[f"qrs_amp_mv_{name}"] = float(_nanmedian(qrs_amp[:, k]))
        feats[f"t_amp_mv_{name}"] = float(_nanmedian(t_amp[:, k]))
    for name in PRECORDIAL:
        k = LEADS.index(name)
        rr_ = max(float(_nanmedian(r_amp[:, k])), 0.0)
        ss_ = max(float(_nanmedian(s_amp[:, k])), 0.0)
        feats[f"rs_ratio_{name}"] = rr_ / (rr_ + ss_) if rr_ + ss_ > 0 else float("nan")
    total = np.nansum(areas, axis=0)  # (3, 2); all-NaN beats add 0
    seen = np.isfinite(areas).any(axis=0)
    for j, key in enumerate(("p_axis_deg", "qrs_axis_deg", "t_axis_deg")):
        feats[key] = _axis(total[j, 0], total[j, 1]) if seen[j].all() else float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        qcv = np.nanstd(qrs_amp, axis=0) / np.nanmean(qrs_amp, axis=0)
        feats["qrs_amp_cv"] = float(_nanmedian(qcv))
        big_t = int(np.nanargmax(np.abs(_nanmedian(t_amp, axis=0)))) if np.isfinite(t_amp).any() else None
        feats["t_amp_cv"] = (float(np.nanstd(t_amp[:, big_t]) / abs(np.nanmean(t_amp[:, big_t])))
                             if big_t is not None else float("nan"))
    return feats


def _variability_features(clean: np.ndarray, r: np.ndarray, fs: float) -> dict[str, float]:
    """Median correlation of each beat (R - 0.2 s .. R + 0.4 s) with the median beat, on the lead of
    largest QRS."""
    lead = int(np.argmax(np.percentile(clean, 99.5, axis=1) - np.percentile(clean, 0.5, axis=1)))
    lo, hi = round(0.2 * fs), round(0.4 * fs)
    inside = [int(p) for p in r if p - lo >= 0 and p + hi <= clean.shape[1]]
    beats = np.stack([clean[lead, p - lo : p + hi] for p in inside]) if inside else np.empty((0, lo + hi))
    if len(beats) < 3:
        return {"beat_corr": float("nan")}
    template = np.median(beats, axis=0)
    corr = [np.corrcoef(b, template)[0, 1] for b in beats]
    return {"beat_corr": float(np.median(corr))}


def _duration_features(prom: dict[str, dict[str, np.ndarray]], dwt: dict[str, dict[str, np.ndarray]],
                       fs: float, dwt_leads: tuple[str, ...]) -> dict[str, float]:
    ms = 1000.0 / fs
    nan = float("nan")
    feats = {}
    for name in LEADS:
        w = prom.get(name)
        feats[f"qrs_dur_ms_{name}"] = float(_nanmedian((w["R_Offsets"] - w["R_Onsets"]) * ms)) if w else nan
    for name in dwt_leads:
        w = dwt.get(name)
        feats[f"p_dur_ms_{name}"] = float(_nanmedian((w["P_Offsets"] - w["P_Onsets"]) * ms)) if w else nan
        feats[f"t_dur_ms_{name}"] = float(_nanmedian((w["T_Offsets"] - w["T_Onsets"]) * ms)) if w else nan
    return feats
