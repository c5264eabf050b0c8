"""The dipole template: a 3-D sum-of-Gaussians heart vector (ECGSYN extended to 3-D, OSET style).

Each Gaussian ("column") drives one axis of the vectorcardiogram (X left, Y inferior, Z posterior,
as in :mod:`threekg.vcg`) and belongs to one *group* that the pathologies act on:

* ``P``: atrial depolarisation (and atrial repolarisation, the broad Z lobe before the QRS);
* ``QRS``: ventricular depolarisation of a conducted beat;
* ``T``: ST segment and T wave (ventricular repolarisation) of a conducted beat;
* ``ECTOPIC``: the whole QRS-T of a premature ventricular or paced beat, and the parts of a conducted
  beat that the frontal-axis calibration must not rotate (initial forces, pacemaker spike);
* ``ECTOPIC_P``: the P wave of a premature atrial beat (rotated: another focus).

The normal parameter set is the published one quoted in ``method.md`` section 6, in phase units
(radians, R peak at 0). We convert it to seconds at the reference heart rate of 60 bpm
(``t = theta / 2 pi``, ``sigma = b / 2 pi``) because the pathologies are defined by durations in
milliseconds (PR, QRS, QT), and the QRS must not stretch with the RR interval the way a pure phase
model would make it.  Extra "lobe" columns (one per axis) carry the pathological activation lobes
(bundle branch blocks, ventricular ectopy) and the discordant repolarisation that goes with them.
"""

from __future__ import annotations

import numpy as np

P, QRS, T, ECTOPIC, ECTOPIC_P = 0, 1, 2, 3, 4
N_GROUPS = 5
GROUP_NAMES: tuple[str, ...] = ("P", "QRS", "T", "ECTOPIC", "ECTOPIC_P")

# (theta rad, a mV, b rad) per axis, method.md section 6.
_X = (
    [-1.09, -0.83, -0.19, -0.07, 0.0, 0.06, 0.22, 1.2, 1.42, 1.68, 2.9],
    [0.03, 0.08, -0.13, 0.85, 1.11, 0.75, 0.06, 0.1, 0.17, 0.39, 0.03],
    [0.0906, 0.1057, 0.0453, 0.0378, 0.0332, 0.0302, 0.0378, 0.604, 0.302, 0.1812, 0.5],
)
_Y = (
    [-1.1, -0.9, -0.76, -0.11, -0.01, 0.065, 0.8, 1.58, 2.9],
    [0.035, 0.015, -0.019, 0.32, 0.51, -0.32, 0.04, 0.08, 0.014],
    [0.07, 0.07, 0.04, 0.055, 0.037, 0.0604, 0.45, 0.3, 0.5],
)
_Z = (
    [-1.1, -0.93, -0.7, -0.4, -0.15, 0.095, 1.05, 1.25, 1.55, 2.8],
    [-0.03, -0.14, -0.035, 0.045, -0.4, 0.46, -0.12, -0.2, -0.35, -0.035],
    [0.03, 0.12, 0.04, 0.4, 0.045, 0.05, 0.8, 0.4, 0.2, 0.4],
)


def _group_of(theta: float) -> int:
    """Atrial Gaussians come before -0.3 rad, depolarisation up to +0.3 rad, repolarisation after."""
    if theta < -0.3:
        return P
    if theta <= 0.3:
        return QRS
    return T


def _normal_columns() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    axis, group, t, a, s = [], [], [], [], []
    for ax, (theta, amp, width) in enumerate((_X, _Y, _Z)):
        for th, aa, bb in zip(theta, amp, width, strict=True):
            axis.append(ax)
            group.append(_group_of(th))
            t.append(th / (2 * np.pi))
            a.append(aa)
            s.append(bb / (2 * np.pi))
    return np.array(axis), np.array(group), np.array(t), np.array(a), np.array(s)


NORMAL_AXIS, NORMAL_GROUP, PUBLISHED_T, PUBLISHED_A, PUBLISHED_SIGMA = _normal_columns()
"""The 30 normal columns: axis (0 X, 1 Y, 2 Z), group, and the published centre (s from R at 60 bpm),
amplitude (mV) and width (s)."""
CALIBRATED_A = np.array([
    0.0400, 0.0777, -0.0870, 0.8616, 1.1157, 0.7392, 0.0491, 0.0412, 0.1096, 0.3043, 0.0250,  # X
    0.0983, -0.0134, -0.0636, 0.2834, 0.5264, -0.2812, 0.0489, 0.1133, 0.0173,  # Y
    -0.0548, -0.0264, -0.0352, -0.0402, -0.3125, 0.7511, 0.0051, -0.0990, -0.2208, -0.0376,  # Z
])
"""The published amplitudes (mV) calibrated against the PTB-XL-500 NORM records (:mod:`threekg.synth.calibrate`)."""
NORMAL_A: np.ndarray = CALIBRATED_A
NORMAL_T: np.ndarray = PUBLISHED_T
NORMAL_SIGMA: np.ndarray = PUBLISHED_SIGMA
"""What the generator uses: amplitude (mV), centre (s from R at 60 bpm) and width (s) of every column."""

N_NORMAL = len(NORMAL_AXIS)
N_LOBES = 6
"""Extra vector lobes, each 3 columns (X, Y, Z): see the ``LOBE_*`` names."""
LOBE_DEPOL_1, LOBE_DEPOL_2, LOBE_REPOL, LOBE_TERMINAL, LOBE_INITIAL, LOBE_SPIKE = range(N_LOBES)
"""Lobes: two depolarisation lobes and one repolarisation lobe of a beat that does not use the normal
QRS-T (LBBB, premature ventricular, paced); the terminal right-ventricular lobe of a right bundle
branch block; the initial-force lobe (fascicular block, pathological Q); a pacemaker spike."""
N_COLUMNS = N_NORMAL + 3 * N_LOBES

COLUMN_AXIS: np.ndarray = np.concatenate([NORMAL_AXIS, np.tile(np.arange(3), N_LOBES)])
"""Axis of every column (N_COLUMNS,)."""


def lobe_columns(lobe: int) -> slice:
    """The three columns (X, Y, Z) of extra lobe ``lobe`` (0, 1 or 2)."""
    start = N_NORMAL + 3 * lobe
    return slice(start, start + 3)


def normal_columns(group: int) -> np.ndarray:
    """Indices of the normal columns in ``group``."""
    return np.flatnonzero(NORMAL_GROUP == group)


QRS_ONSET_S = float(np.min(PUBLISHED_T[NORMAL_GROUP == QRS] - 2.5 * PUBLISHED_SIGMA[NORMAL_GROUP == QRS]))
"""QRS onset of the template relative to R (s): the earliest depolarisation centre minus 2.5 sigma."""


P_SIGMA_FACTOR = 1.15
T_SIGMA_FACTOR = 1.10
"""Wider P and T Gaussians than published (same centres): real P waves are broad and rounded (about
110 ms), real T waves a little longer (PTB-XL NORM, measured with NeuroKit2's DWT delineation)."""
T_END_REF_S = 0.321
"""End of the template T wave after the R peak at 60 bpm (tangent method), used to stretch the T group."""
J_POINT_S = 0.04
"""End of the template QRS after the R peak (s): the ST-T stretches from here."""


def qrs_time(tau: np.ndarray | float, qrs_width: float) -> np.ndarray:
    """Time (s from the beat's R) of template QRS time ``tau`` in a QRS ``qrs_width`` times as long,
    scaled from the QRS onset."""
    return QRS_ONSET_S + (np.asarray(tau, dtype=float) - QRS_ONSET_S) * qrs_width


def normal_timing(rr: np.ndarray, p_width: float, pr_extra: float, qrs_width: float, qtc: float,
                  t_delay: float = 0.0, base: tuple[np.ndarray, np.ndarray] | None = None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centres and widths (s) of the normal columns for beats with preceding RR ``rr`` (B,) s.

    P: widened by ``p_width`` about its centre, slightly rate dependent (RR^0.1), moved ``pr_extra``
    earlier. QRS: scaled by ``qrs_width`` from its onset (a wider QRS ends later; PR is kept). ST-T:
    stretched from the J point (which a wider QRS delays, plus ``t_delay``) so that QT = ``qtc`` x
    sqrt(RR) (Bazett). ``base``: the template's (centres, widths), default (NORMAL_T, NORMAL_SIGMA).
    Returns (B, N_NORMAL) centres and widths, and the ST-T stretch (B,).
    """
    t0, s0 = (NORMAL_T, NORMAL_SIGMA) if base is None else base
    rr = np.asarray(rr, dtype=float)[:, None]
    centre = np.broadcast_to(t0, (rr.shape[0], N_NORMAL)).copy()
    sigma = np.broadcast_to(s0, (rr.shape[0], N_NORMAL)).copy()
    pc, qc, tc = (NORMAL_GROUP == g for g in (P, QRS, T))
    mid = float(np.mean(t0[pc]))
    rate = rr**0.1
    centre[:, pc] = (mid + (t0[pc] - mid) * p_width) * rate - pr_extra
    sigma[:, pc] = s0[pc] * P_SIGMA_FACTOR * p_width * rate
    centre[:, qc] = qrs_time(t0[qc], qrs_width)
    sigma[:, qc] = s0[qc] * qrs_width
    t_delay = t_delay + (J_POINT_S - QRS_ONSET_S) * (qrs_width - 1.0)
    stretch = (qtc * np.sqrt(rr) + QRS_ONSET_S - J_POINT_S - t_delay) / (T_END_REF_S - J_POINT_S)
    centre[:, tc] = J_POINT_S + t_delay + (t0[tc] - J_POINT_S) * stretch
    sigma[:, tc] = s0[tc] * T_SIGMA_FACTOR * stretch
    return centre, sigma, stretch[:, 0]
