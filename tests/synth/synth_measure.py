"""Independent ECG measurements for the generator's tests (they know nothing of its parameters).

All work on (12, T) signals in LEADS order, mV; designed for noise-free records (baseline 0).
Intervals: QRS from the spatial velocity of the 8 independent leads (threshold 6 % of the beat's
peak velocity, gaps < 20 ms merged); P onset where the spatial magnitude first exceeds 10 % of the
P-wave peak; T end by the tangent method on the lead with the largest T wave.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from scipy.signal import find_peaks

from threekg.leads import INDEPENDENT_INDEX, LEADS

LEAD_I, AVF, V1, V5 = (LEADS.index(x) for x in ("I", "aVF", "V1", "V5"))


@dataclass
class Beat:
    r: int
    qrs_on: int
    qrs_off: int


def spatial_velocity(ecg: np.ndarray, fs: float) -> np.ndarray:
    """(T,) mV/s."""
    d = np.gradient(ecg[list(INDEPENDENT_INDEX)], axis=1) * fs
    return np.sqrt((d**2).sum(axis=0))


def r_peaks(ecg: np.ndarray, fs: float) -> np.ndarray:
    """R-peak (QRS) sample indices from the spatial velocity, with scipy.signal.find_peaks."""
    v = spatial_velocity(ecg, fs)
    k = max(1, round(0.02 * fs))
    env = np.convolve(v, np.ones(k) / k, mode="same")
    peaks, _ = find_peaks(env, height=0.35 * np.percentile(env, 99.5), distance=round(0.25 * fs))
    return peaks


def qrs_bounds(ecg: np.ndarray, fs: float, peak: int, fraction: float = 0.06) -> tuple[int, int]:
    """QRS onset and offset (samples) around a detected peak."""
    v = spatial_velocity(ecg, fs)
    lo, hi = max(0, peak - round(0.15 * fs)), min(len(v), peak + round(0.15 * fs))
    core = slice(max(0, peak - round(0.05 * fs)), min(len(v), peak + round(0.05 * fs)))
    thr = fraction * v[core].max()
    above = v[lo:hi] > thr
    centre = int(np.argmax(v[core])) + core.start - lo
    gap = round(0.02 * fs)
    on = centre
    while on > 0 and (above[on - 1] or np.any(above[max(0, on - gap) : on])):
        on -= 1
    off = centre
    while off < len(above) - 1 and (above[off + 1] or np.any(above[off + 1 : off + 1 + gap])):
        off += 1
    return lo + on, lo + off


def beats(ecg: np.ndarray, fs: float, skip_edges_s: float = 0.6) -> list[Beat]:
    """Beats whose QRS lies away from the record's edges."""
    out = []
    for p in r_peaks(ecg, fs):
        if skip_edges_s * fs < p < ecg.shape[1] - skip_edges_s * fs:
            on, off = qrs_bounds(ecg, fs, int(p))
            out.append(Beat(int(p), on, off))
    return out


def heart_rate(ecg: np.ndarray, fs: float) -> float:
    """Mean heart rate (bpm) from R-R intervals."""
    return float(60.0 / np.mean(np.diff(r_peaks(ecg, fs)) / fs))


def rr_intervals(ecg: np.ndarray, fs: float) -> np.ndarray:
    return np.diff(r_peaks(ecg, fs)) / fs


def qrs_width_ms(ecg: np.ndarray, fs: float) -> float:
    """Median QRS duration (ms)."""
    return float(np.median([(b.qrs_off - b.qrs_on) / fs * 1000 for b in beats(ecg, fs)]))


def pr_interval_ms(ecg: np.ndarray, fs: float) -> float:
    """Median PR interval (ms): P onset (10 % of the P peak magnitude) to QRS onset."""
    mag = np.sqrt((ecg[list(INDEPENDENT_INDEX)] ** 2).sum(axis=0))
    out = []
    for b in beats(ecg, fs):
        lo = b.qrs_on - round(0.35 * fs)
        hi = b.qrs_on - round(0.03 * fs)
        if lo < 0:
            continue
        seg = mag[lo:hi]
        peak = int(np.argmax(seg))
        below = np.flatnonzero(seg[:peak] < 0.1 * seg[peak])
        # P onset: the last sample below 10 % of the P peak, or the T-P minimum when the T runs into P
        onset = below[-1] + 1 if len(below) else int(np.argmin(seg[:peak])) if peak else 0
        out.append((b.qrs_on - (lo + onset)) / fs * 1000)
    return float(np.median(out))


def qt_interval_ms(ecg: np.ndarray, fs: float) -> tuple[float, float]:
    """Median QT (ms) by the tangent method and Bazett QTc (ms) with the mean RR."""
    bs = beats(ecg, fs)
    qts = []
    for b, nxt in itertools.pairwise(bs):
        lo, hi = b.qrs_off + round(0.06 * fs), min(nxt.qrs_on - round(0.05 * fs), b.r + round(0.7 * fs))
        # the lead with the largest T in this beat
        lead_b = max(range(12), key=lambda k: float(np.abs(ecg[k, lo:hi]).max()))
        x = ecg[lead_b, lo:hi]
        peak = int(np.argmax(np.abs(x)))
        sign = np.sign(x[peak])
        dx = np.gradient(x) * fs
        after = slice(peak, len(x))
        steep = peak + int(np.argmax(-sign * dx[after]))
        t_end = steep - x[steep] / dx[steep] * fs
        qts.append((lo + t_end - b.qrs_on) / fs * 1000)
    qt = float(np.median(qts))
    rr = float(np.mean(rr_intervals(ecg, fs)))
    return qt, qt / np.sqrt(rr)


def qrs_axis_deg(ecg: np.ndarray, fs: float) -> float:
    """Frontal QRS axis (degrees) from the net QRS area in leads I and aVF."""
    a_i = sum(ecg[LEAD_I, b.qrs_on : b.qrs_off].sum() for b in beats(ecg, fs))
    a_f = sum(ecg[AVF, b.qrs_on : b.qrs_off].sum() for b in beats(ecg, fs))
    return float(np.degrees(np.arctan2(a_f, a_i)))


def limb_qrs_p2p_mv(ecg: np.ndarray, fs: float) -> float:
    """Median over beats of the largest limb-lead QRS peak-to-peak amplitude (mV)."""
    return float(np.median([np.ptp(ecg[:6, b.qrs_on : b.qrs_off + 1], axis=1).max() for b in beats(ecg, fs)]))


def r_amplitude_mv(ecg: np.ndarray, fs: float, lead: int = V5) -> float:
    """Median R amplitude (largest positive QRS deflection) in ``lead`` (mV)."""
    return float(np.median([ecg[lead, b.qrs_on : b.qrs_off + 1].max() for b in beats(ecg, fs)]))


def t_polarity(ecg: np.ndarray, fs: float, lead: int = V5) -> float:
    """Median sign (+1/-1) of the T-wave peak in ``lead``."""
    out = []
    bs = beats(ecg, fs)
    for b, nxt in itertools.pairwise(bs):
        x = ecg[lead, b.qrs_off + round(0.06 * fs) : nxt.qrs_on - round(0.1 * fs)]
        out.append(np.sign(x[np.argmax(np.abs(x))]))
    return float(np.median(out))


def p_wave_consistency(ecg: np.ndarray, fs: float, lead: int = 1) -> float:
    """Mean correlation between consecutive beats of the 200 ms before each QRS onset (P region).

    A P wave locked to the QRS gives ~1; fibrillatory waves, not locked, give much less.
    """
    segs = [ecg[lead, b.qrs_on - round(0.2 * fs) : b.qrs_on - round(0.02 * fs)]
            for b in beats(ecg, fs) if b.qrs_on > round(0.2 * fs)]
    cors = [np.corrcoef(a, b)[0, 1] for a, b in itertools.pairwise(segs)]
    return float(np.mean(cors))


def tq_segments(ecg: np.ndarray, fs: float, lead: int, after_r_s: float, before_qrs_s: float) -> Iterator[np.ndarray]:
    """The linearly detrended ``lead`` between R + ``after_r_s`` and the next QRS onset - ``before_qrs_s``
    of every beat pair, segments of at least 0.2 s (the atrial activity of AF / flutter)."""
    for b, nxt in itertools.pairwise(beats(ecg, fs, skip_edges_s=0.3)):
        lo, hi = b.r + round(after_r_s * fs), nxt.qrs_on - round(before_qrs_s * fs)
        if hi - lo < 0.2 * fs:
            continue
        x = ecg[lead, lo:hi]
        yield x - np.polyval(np.polyfit(np.arange(len(x)), x, 1), np.arange(len(x)))


def tq_frequency_hz(ecg: np.ndarray, fs: float, lead: int = V1) -> float:
    """Dominant frequency of the activity between T end and next QRS (zero crossings of the detrended
    signal in [R + 0.45 s, next QRS onset - 0.05 s] windows of at least 0.2 s)."""
    crossings, duration = 0, 0.0
    for x in tq_segments(ecg, fs, lead, 0.45, 0.05):
        crossings += int(np.sum(np.signbit(x[1:]) != np.signbit(x[:-1])))
        duration += len(x) / fs
    return crossings / (2.0 * duration) if duration else float("nan")


def terminal_qrs_mean_mv(ecg: np.ndarray, fs: float, lead: int, ms: float = 40.0) -> float:
    """Median over beats of the mean of ``lead`` in the last ``ms`` of the QRS."""
    k = round(ms / 1000 * fs)
    return float(np.median([ecg[lead, b.qrs_off - k : b.qrs_off].mean() for b in beats(ecg, fs)]))


def initial_qrs_min_mv(ecg: np.ndarray, fs: float, lead: int, ms: float = 30.0) -> float:
    """Median over beats of the minimum of ``lead`` in the first ``ms`` of the QRS (a q wave is negative)."""
    k = round(ms / 1000 * fs)
    return float(np.median([ecg[lead, b.qrs_on : b.qrs_on + k].min() for b in beats(ecg, fs)]))


def qrs_area(ecg: np.ndarray, fs: float, lead: int) -> float:
    """Net QRS area of ``lead`` summed over beats (mV x samples)."""
    return float(sum(ecg[lead, b.qrs_on : b.qrs_off].sum() for b in beats(ecg, fs)))


def q_wave(ecg: np.ndarray, fs: float, lead: int) -> tuple[float, float]:
    """Median over beats of the initial negative deflection of ``lead``: (duration ms, depth / R).

    From the QRS onset (baseline = the value there), the Q wave lasts while the signal stays below the
    baseline; depth is its lowest point, R the largest positive value in the QRS (both from the baseline).
    """
    durs, ratios = [], []
    for b in beats(ecg, fs):
        x = ecg[lead, b.qrs_on : b.qrs_off + 1] - ecg[lead, b.qrs_on]
        k = round(0.004 * fs)  # the first few milliseconds decide whether the QRS starts downwards
        if x[: k + 1].mean() >= 0 or x[k] >= 0:
            durs.append(0.0)
            ratios.append(0.0)
            continue
        up = np.flatnonzero(x[1:] >= 0)
        end = int(up[0]) + 1 if len(up) else len(x)
        durs.append(end / fs * 1000)
        ratios.append(float(-x[:end].min() / max(x.max(), 1e-6)))
    return float(np.median(durs)), float(np.median(ratios))


def t_to_r_ratio(ecg: np.ndarray, fs: float, lead: int) -> float:
    """Median over beats of the largest |T| (QRS end + 60 ms to 250 ms before the next QRS, before its
    P wave) over the R."""
    out = []
    bs = beats(ecg, fs)
    for b, nxt in itertools.pairwise(bs):
        base = ecg[lead, b.qrs_on]
        t = ecg[lead, b.qrs_off + round(0.06 * fs) : nxt.qrs_on - round(0.25 * fs)] - base
        r = ecg[lead, b.qrs_on : b.qrs_off + 1].max() - base
        out.append(float(np.abs(t).max() / max(r, 1e-6)))
    return float(np.median(out))


def tq_dominant_hz(ecg: np.ndarray, fs: float, lead: int, lo_hz: float = 2.0, hi_hz: float = 12.0) -> float:
    """Frequency of the largest summed spectral peak of the detrended, Hann-windowed segments between
    R + 0.4 s and the next QRS onset - 0.04 s (segments of at least 0.2 s)."""
    nfft = 8192
    power = np.zeros(nfft // 2 + 1)
    for x in tq_segments(ecg, fs, lead, 0.4, 0.04):
        power += np.abs(np.fft.rfft(x * np.hanning(len(x)), nfft)) ** 2
    freqs = np.fft.rfftfreq(nfft, 1 / fs)
    band = (freqs >= lo_hz) & (freqs <= hi_hz)
    return float(freqs[band][np.argmax(power[band])]) if power.any() else float("nan")
