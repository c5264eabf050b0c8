"""Vectorised rendering of a batch of records: Gaussians -> dipole (VCG) -> 12 leads.

All beats and all Gaussians of all records in a batch are evaluated at once on short windows
(+-4 sigma) around their centres and summed with one ``np.bincount`` into per-record, per-group
VCG buffers. The groups are then rotated (heart orientation, QRS axis), scaled (QRS voltage) and
projected to 12 leads with :func:`threekg.vcg.vcg_to_ecg` (the Dower matrix lives there only).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from threekg.leads import LEADS
from threekg.synth import shape_model as sm
from threekg.synth import template as tp
from threekg.synth.beats import WaveTiming
from threekg.synth.shape_beat import (
    N_CHANNELS,
    N_SEGMENTS,
    SEG_P,
    SEG_T,
    SEGMENT_TAU_S,
    segment_weights,
    within_waves,
)
from threekg.vcg import expand_8_to_12, vcg_to_ecg

I_LEAD, AVF_LEAD, V5_LEAD = LEADS.index("I"), LEADS.index("aVF"), LEADS.index("V5")
LIMB = slice(0, 6)
LIMB_QRS_P2P_RANGE_MV = (0.65, 2.8)
"""Largest limb-lead QRS peak-to-peak of a record without LQRSV (LQRSV criterion: < 0.5 mV)."""
R_V5_RANGE_MV = (0.6, 2.3)
"""R amplitude in V5 of records with a normal QRS (published normal range roughly 0.5-2.5 mV)."""


@dataclass(frozen=True)
class AtrialWaves:
    """Atrial activity without P waves, along ``direction`` (unit VCG vector).

    ``kind="af"``: fibrillatory waves, frequency ``f0`` +- ``df`` Hz (slowly varying), amplitude ``amp``.
    ``kind="flutter"``: a sawtooth at ``f0`` Hz (no variation), locked to the beats by ``phase``
    (the wave's trough at t = ``phase`` / (2 pi f0) s).
    """

    kind: str
    f0: float
    df: float
    amp: float
    phase: float
    amp_phase: float
    harmonic_phase: float
    direction: tuple[float, float, float]


@dataclass(frozen=True)
class RecordSpec:
    """Everything random about one record, drawn from its own generator; rendering is deterministic."""

    r_times: np.ndarray  # (B,) s
    amp: np.ndarray  # (B, C) mV
    centre: np.ndarray  # (B, C) s relative to R
    sigma: np.ndarray  # (B, C) s
    group: np.ndarray  # (B, C) int
    rotation: np.ndarray  # (3, 3) heart orientation
    pac_rotation: np.ndarray  # (3, 3) P-vector rotation of atrial premature beats
    axis_range_deg: tuple[float, float]  # frontal QRS axis range the record must fall in
    axis_u: float  # position of the target inside the range (used when the range is not normal)
    normal_axis: bool  # True: keep the natural axis and only clamp it into the range
    low_voltage_mv: float | None  # LQRSV: target max limb QRS peak-to-peak; None: normal voltage
    normal_qrs: bool  # False for bundle branch blocks (R in V5 not constrained)
    atrial: AtrialWaves | None  # fibrillatory or flutter waves, or None
    resp: tuple[float, float, float, float]  # breathing Hz, phase rad, swing about X and Z (rad)
    noise: np.ndarray | None  # (12, T) mV in lead space (Einthoven-consistent), or None
    waves: WaveTiming | None = None  # timing and gains of the shape-model beat's segments, or None
    beat: np.ndarray | None = None  # (4, 11, L + 2) the patient's beat segments (threekg.synth.shape_beat)


def rotation_matrix(angles_deg: np.ndarray | tuple[float, float, float]) -> np.ndarray:
    """Rotation about X, then Y, then Z (degrees) as a (3, 3) matrix acting on (X, Y, Z) column vectors."""
    ax, ay, az = np.deg2rad(np.asarray(angles_deg, dtype=float))
    rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    ry = np.array([[np.cos(ay), 0, np.sin(ay)], [0, 1, 0], [-np.sin(ay), 0, np.cos(ay)]])
    rz = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
    return rz @ ry @ rx


_WINDOW_GRID = 1.25
_EXPAND = expand_8_to_12()
SEGMENT_TAU = tuple((lo - sm.DTAU_S * (k == SEG_P), hi + sm.DTAU_S * (k == SEG_T))
                    for k, (lo, hi) in enumerate(SEGMENT_TAU_S))
"""Normalised time range (s) drawn of each segment, P, QRS, ST, T (with the zero sample at each end)."""
_ANTI_ALIAS_SAMPLES = 0.5
_NEGLIGIBLE_MV = 2.5e-4


def _gaussians(specs: list[RecordSpec], fs: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Sum every Gaussian of every beat, and every shape-model segment, into (N, groups, 3, T) VCG
    buffers, mV; also the segments' non-dipolar residual (N, 3, 8, T) mV (P, QRS, ST + T)."""
    rec = np.concatenate([np.full(len(s.r_times), i) for i, s in enumerate(specs)])
    r = np.concatenate([s.r_times for s in specs])
    amp = np.concatenate([s.amp for s in specs])
    cen = np.concatenate([s.centre for s in specs]) + r[:, None]
    # Recorder bandwidth / anti-aliasing: every Gaussian is blurred by a Gaussian of 0.5 sample
    # (area kept), as a low-pass filter before sampling would; this matters at 100-250 Hz where QRS
    # Gaussians (sd ~5 ms) are narrower than a sample.
    sig_raw = np.concatenate([s.sigma for s in specs])
    sig = np.sqrt(sig_raw**2 + (_ANTI_ALIAS_SAMPLES / fs) ** 2)
    amp = amp * (sig_raw / sig)
    grp = np.concatenate([s.group for s in specs])
    # Window half-widths: 4 sigma or less (see below) rounded up to a fixed geometric grid, so a beat's window depends on
    # its own width only (never on the rest of the batch: records do not depend on the batching).
    on_all = amp != 0.0
    level = np.zeros(amp.shape, dtype=np.int64)
    # half-width: where the Gaussian falls below 0.25 uV (at most 4 sigma), on the geometric grid
    reach = np.minimum(4.0, np.sqrt(2.0 * np.log(np.maximum(np.abs(amp[on_all]) / _NEGLIGIBLE_MV, 1.0))))
    level[on_all] = np.ceil(np.log(np.maximum(reach * sig[on_all] * fs, 1.0)) / np.log(_WINDOW_GRID))
    # A visible wave's centre lies up to `half` samples outside [0, n) and its window reaches `half`
    # further: a pad of 2 x half (+ rounding) keeps every window inside its own record's row, so no
    # masking is needed (with one `half` of pad, a wave just past the end spilled into the next
    # record's row, or past the array: seed 1, record 1023 at 100 Hz).
    pad = 2 * int(np.ceil(_WINDOW_GRID ** level.max())) + 2
    m = n + 2 * pad
    index_parts, value_parts = [], []
    for c in range(tp.N_COLUMNS):
        for lev in np.unique(level[on_all[:, c], c]):
            on = np.flatnonzero(on_all[:, c] & (level[:, c] == lev))
            half = int(np.ceil(_WINDOW_GRID**lev))
            centre = cen[on, c]
            visible = (centre * fs + half >= 0) & (centre * fs - half < n)
            on, centre = on[visible], centre[visible]
            offsets = np.arange(-half, half + 1)
            start = np.rint(centre * fs).astype(np.int64)
            inv = (1.0 / sig[on, c]).astype(np.float32)
            val = (offsets / fs).astype(np.float32)[None, :] + (start / fs - centre).astype(np.float32)[:, None]
            val *= inv[:, None]
            np.square(val, out=val)
            val *= np.float32(-0.5)
            np.exp(val, out=val)
            val *= amp[on, c].astype(np.float32)[:, None]
            base = ((rec[on] * tp.N_GROUPS + grp[on, c]) * 3 + tp.COLUMN_AXIS[c]) * m + start + pad
            index_parts.append((base[:, None] + offsets[None, :]).ravel())
            value_parts.append(val.ravel())
    residual = _segments(specs, fs, n, m, pad, index_parts, value_parts)
    size = len(specs) * tp.N_GROUPS * 3 * m
    if not index_parts:
        return np.zeros((len(specs), tp.N_GROUPS, 3, n)), residual
    flat = np.bincount(np.concatenate(index_parts), np.concatenate(value_parts), minlength=size)
    return flat.reshape(len(specs), tp.N_GROUPS, 3, m)[..., pad : pad + n], residual


RESIDUAL_SCALES = 3
"""The residual is kept per voltage calibration it follows: P (none), QRS (QRS scale), ST and T (T scale)."""
_SCALE_OF_SEGMENT = np.array([0, 1, 2, 2])


@lru_cache(maxsize=1)
def _segment_rows() -> tuple[tuple[int, int], ...]:
    """Per segment P, QRS, ST, T: the first and last row of the (L + 2) grid that can be read as non-zero
    data, widened by one zero row on each side (rows outside are zero in the beat and in every
    beat-to-beat component, see :func:`threekg.synth.shape_beat.segment_weights`)."""
    w = segment_weights()
    rows = []
    for seg in range(N_SEGMENTS):
        nz = np.flatnonzero(w[seg] != 0.0) + 1  # + 1: the grid's leading zero sample
        rows.append((int(nz[0]) - 1, int(nz[-1]) + 1))
    return tuple(rows)


def _segment_table(specs: list[RecordSpec], seg: int) -> tuple[np.ndarray, np.ndarray, bool]:
    """One segment's rows for every beat, (rows x beats, 11) float32 over :func:`_segment_rows` only,
    the index of each record's first beat (R,), and whether the table is per beat (False: one copy per
    record, the beats do not vary there, as the P segment: read with the record's index).

    A beat is its patient's beat plus its own combination of the beat-to-beat components (``var @
    comps``); restricting the rows to the segment's support is what keeps this small (the whole grid
    of all four segments per beat was 44 x 402 values, most of them zero)."""
    r0, r1 = _segment_rows()[seg]
    comps = within_waves()[:, seg, :, r0 : r1 + 1]  # (W, 11, rows)
    varies = bool(np.any(comps))
    flat_comps = np.moveaxis(comps, -1, 1).reshape(len(comps), -1)  # (W, rows * 11)
    parts = []
    for spec in specs:
        assert spec.waves is not None and spec.beat is not None
        own = np.moveaxis(np.asarray(spec.beat)[seg, :, r0 : r1 + 1], -1, 0).reshape(1, -1)
        var = spec.waves.variation
        if not varies:
            parts.append(own)
        elif var is None or not len(flat_comps):
            parts.append(np.repeat(own, len(spec.r_times), axis=0))
        else:
            parts.append(own + var.astype(np.float32) @ flat_comps)
    counts = np.array([len(p) for p in parts])
    first = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    return np.concatenate(parts).reshape(int(counts.sum()) * (r1 + 1 - r0), N_CHANNELS), first, varies


def _segments(specs: list[RecordSpec], fs: float, n: int, m: int, pad: int, index_parts: list[np.ndarray],
              value_parts: list[np.ndarray]) -> np.ndarray:
    """Draw every beat's shape-model segments: heart vector into the VCG buffers (appended to
    ``index_parts`` / ``value_parts``, layout of :func:`_gaussians`), residual returned (N, 3, 8, T) mV
    (P, QRS, ST + T).

    Each output sample's normalised time is (t - R - offset) / slope; the segment is read there by
    linear interpolation (the segments carry a zero sample at each end, so reading outside is 0).
    Samples outside the record land in the buffers' padding (``pad`` on each side), which is cut off.
    """
    with_waves = [i for i, sp in enumerate(specs) if sp.waves is not None and sp.beat is not None]
    width = n + 2 * pad
    if not with_waves:
        return np.zeros((len(specs), RESIDUAL_SCALES, 8, n))
    tau0 = float(sm.TAU_S[0]) - sm.DTAU_S
    res_index, res_value = [], []
    for seg in range(N_SEGMENTS):
        # (beats (or records) * rows, 11): the segment's rows of every beat; read as the whole grid would be
        table, first, per_beat = _segment_table([specs[i] for i in with_waves], seg)
        r0, r1 = _segment_rows()[seg]
        rows = r1 + 1 - r0
        rec, row_beat, r, slope, offset, gain, group = [], [], [], [], [], [], []
        for j, i in enumerate(with_waves):
            w = specs[i].waves
            assert w is not None
            on = np.flatnonzero(w.gain[:, seg] != 0.0)
            rec.append(np.full(len(on), j))
            row_beat.append(first[j] + on if per_beat else np.full(len(on), first[j]))
            r.append(specs[i].r_times[on])
            slope.append(w.slope[on, seg])
            offset.append(w.offset[on, seg])
            gain.append(w.gain[on, seg])
            group.append(w.group[on, seg])
        rec_a, r_a, sl, off, gn, grp = (np.concatenate(x) for x in (rec, r, slope, offset, gain, group))
        if not len(rec_a):
            continue
        lo, hi = SEGMENT_TAU[seg]
        start = np.ceil((r_a + sl * lo + off) * fs).astype(np.int64)
        span = int(np.ceil(float(sl.max()) * (hi - lo) * fs)) + 2
        k = start[:, None] + np.arange(span)[None, :]
        pos = ((k / fs - r_a[:, None] - off[:, None]) / sl[:, None] - tau0) / sm.DTAU_S
        # positions on the segment's rows (outside them the grid is zero, and so is what is read there)
        pos = np.clip(pos - r0, 0.0, rows - 1.0)
        i0 = np.minimum(pos.astype(np.int64), rows - 2)
        frac = (pos - i0).astype(np.float32)[..., None]
        row = np.concatenate(row_beat)[:, None] * rows + i0
        vals = table[row.ravel()].reshape(*row.shape, N_CHANNELS) * (1.0 - frac)
        vals += table[row.ravel() + 1].reshape(*row.shape, N_CHANNELS) * frac
        vals *= gn.astype(np.float32)[:, None, None]  # (nb, span, 11)
        k = np.clip(k, -pad, n + pad - 1) + pad
        orig = np.asarray(with_waves)[rec_a]
        for axis in range(3):
            base = ((orig * tp.N_GROUPS + grp) * 3 + axis) * m
            index_parts.append((base[:, None] + k).ravel())
            value_parts.append(vals[..., axis].ravel())
        base = (orig * RESIDUAL_SCALES + _SCALE_OF_SEGMENT[seg]) * 8 * width
        res_index.append((base[:, None, None] + np.arange(8)[None, None, :] * width + k[..., None]).ravel())
        res_value.append(vals[..., 3:].ravel())
    size = len(specs) * RESIDUAL_SCALES * 8 * width
    flat = np.bincount(np.concatenate(res_index), np.concatenate(res_value), minlength=size)
    return flat.reshape(len(specs), RESIDUAL_SCALES, 8, width)[..., pad : pad + n]


def _atrial_waves(spec: RecordSpec, fs: float, n: int) -> np.ndarray:
    """Fibrillatory (4-9 Hz, frequency and amplitude slowly modulated) or flutter (sawtooth) waves (3, T), mV."""
    w = spec.atrial
    assert w is not None
    t = np.arange(n) / fs
    if w.kind == "flutter":
        phi = 2 * np.pi * w.f0 * t - w.phase + np.pi
        # a rounded sawtooth (4 harmonics falling as k^-1.6): slow descent to the trough at phi = pi, then a
        # quick rise; along +Y this gives the negative flutter waves of II, III and aVF of typical flutter
        wave = -w.amp * 0.75 * sum(((-1) ** (k + 1)) * np.sin(k * phi) / k**1.6 for k in range(1, 5))
    else:
        freq = w.f0 + w.df * np.sin(2 * np.pi * 0.1 * t + w.phase)
        phi = 2 * np.pi * np.cumsum(freq) / fs + w.phase
        envelope = w.amp * (1.0 + 0.3 * np.sin(2 * np.pi * 0.2 * t + w.amp_phase))
        wave = envelope * (np.sin(phi) + 0.25 * np.sin(2 * phi + w.harmonic_phase))
    return np.asarray(w.direction)[:, None] * wave[None, :]


_KX = np.array([[0.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
_KZ = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])


def _breathing(vcg: np.ndarray, resp: tuple[float, float, float, float], fs: float) -> np.ndarray:
    """Respiratory swing of the heart vector: small rotations about X and Z, (3, T) -> (3, T)."""
    hz, phase, ax, az = resp
    osc = np.sin(2 * np.pi * hz * np.arange(vcg.shape[1]) / fs + phase)
    return vcg + (ax * osc) * (_KX @ vcg) + (az * osc) * (_KZ @ vcg)


def _frontal_axis(vcg_area: np.ndarray, lead_area: np.ndarray | None = None) -> np.ndarray:
    """Frontal QRS axis (degrees) from net QRS areas: atan2(area aVF, area I); input (..., 3), plus the
    areas (12,) of a non-dipolar part in lead space if given."""
    leads = vcg_to_ecg(vcg_area[..., None])[..., 0]
    if lead_area is not None:
        leads = leads + lead_area
    return np.rad2deg(np.arctan2(leads[..., AVF_LEAD], leads[..., I_LEAD]))


_GRID_DEG = np.arange(-180.0, 180.0, 0.25)
_GRID_ROT = np.stack([rotation_matrix((0.0, 0.0, d)) for d in _GRID_DEG])


def _axis_rotation(spec: RecordSpec, qrs_area: np.ndarray, lead_area: np.ndarray | None = None) -> np.ndarray:
    """Frontal-plane rotation (3, 3) of the QRS that puts its axis where the record's labels demand."""
    lo, hi = spec.axis_range_deg
    natural = float(_frontal_axis(qrs_area, lead_area))
    if spec.normal_axis and lo <= natural <= hi:
        return np.eye(3)
    target = float(np.clip(natural, lo, hi)) if spec.normal_axis else lo + spec.axis_u * (hi - lo)
    axes = _frontal_axis(_GRID_ROT @ qrs_area, lead_area)
    miss = np.abs((axes - target + 180.0) % 360.0 - 180.0)
    best = np.flatnonzero(miss <= miss.min() + 1e-9)
    return _GRID_ROT[best[np.argmin(np.abs(_GRID_DEG[best]))]]


def render(specs: list[RecordSpec], fs: float, n: int) -> tuple[np.ndarray, list[dict[str, float]]]:
    """Render a batch: (N, 12, T) float64 mV, plus per-record calibration values for the metadata."""
    buf, residual = _gaussians(specs, fs, n)
    out = np.empty((len(specs), len(LEADS), n))
    info: list[dict[str, float]] = []
    for i, spec in enumerate(specs):
        rot = spec.rotation
        p, q, t, e, ep = (buf[i, g] for g in range(tp.N_GROUPS))
        qrs = rot @ q
        # the beat's non-dipolar QRS part (not rotated) counts in the axis the labels constrain
        lead_area = _EXPAND @ residual[i, 1].sum(axis=1) if spec.waves is not None else None
        axis_rot = _axis_rotation(spec, qrs.sum(axis=1), lead_area) if np.any(q) else np.eye(3)
        qrs = axis_rot @ qrs
        scale = 1.0
        if np.any(q):
            q_ecg = vcg_to_ecg(qrs)
            if spec.waves is not None:
                q_ecg = q_ecg + _EXPAND @ residual[i, 1]
            p2p = float(np.ptp(q_ecg[LIMB], axis=1).max())
            rv5 = max(float(q_ecg[V5_LEAD].max()), 1e-3)
            if spec.low_voltage_mv is not None:
                scale = spec.low_voltage_mv / p2p
            else:
                lo, hi = LIMB_QRS_P2P_RANGE_MV[0] / p2p, LIMB_QRS_P2P_RANGE_MV[1] / p2p
                if spec.normal_qrs:
                    lo, hi = max(lo, R_V5_RANGE_MV[0] / rv5), min(hi, R_V5_RANGE_MV[1] / rv5)
                scale = float(min(max(1.0, lo), hi))
        t_scale = min(1.0, scale)
        vcg = rot @ (p + spec.pac_rotation @ ep) + scale * qrs + t_scale * (rot @ t) + min(1.0, scale) * (rot @ e)
        vcg = _breathing(vcg, spec.resp, fs)
        if spec.atrial is not None:
            vcg = vcg + _atrial_waves(spec, fs, n)
        out[i] = vcg_to_ecg(vcg)
        if specs[i].waves is not None:
            out[i] += _EXPAND @ (residual[i, 0] + scale * residual[i, 1] + t_scale * residual[i, 2])
        if spec.noise is not None:
            out[i] += spec.noise
        info.append({"qrs_scale": scale, "qrs_axis_deg": float(_frontal_axis(qrs.sum(axis=1), lead_area))})
    return out, info
