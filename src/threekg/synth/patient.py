"""Per-patient physiology: orientation, size, rate, wave amplitudes and durations.

A patient's values are *quantiles and factors*, not absolute numbers, where the diagnosis decides the
range: ``hr_quantile`` places the heart rate inside the range of the record's rhythm (sinus
bradycardia 42-56 bpm, normal 62-95 bpm, ...), ``qtc_quantile`` places QTc inside the normal or the
long-QT range. So one patient can be given any label set and stays the same person.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from threekg.synth.levels import default_model as default_levels

SHAPE_SCORES = 40
"""Shape-model scores drawn per patient (the model uses the first K of them)."""
LEVEL_SCORES = 12
"""Standard-normal scores of the variability and noise levels drawn per patient (:mod:`threekg.synth.levels`
uses the first d of them)."""


@dataclass(frozen=True)
class PatientParams:
    """One synthetic patient. Angles in degrees, durations in seconds, factors dimensionless."""

    patient_id: str
    age: int
    sex: str  # "Male" | "Female"
    rotation_deg: tuple[float, float, float]  # heart orientation: rotation about X, Y, Z (frontal plane)
    size: float  # depolarisation amplitude factor (heart size x body habitus), ~0.65-1.35
    p_amp: float  # P-wave amplitude factor
    t_amp: float  # T-wave amplitude factor
    qrs_width: float  # QRS duration factor, 0.9-1.05
    p_width: float  # P-wave duration factor, 1.0-1.2
    pr_shift: float  # s taken off the template PR interval (positive = shorter), -0.01..0.02
    hr_quantile: float  # position of the heart rate inside the rhythm's range, 0-1
    qtc_quantile: float  # position of QTc inside the normal or long-QT range, 0-1
    hrv: float  # relative respiratory RR modulation of a sinus rhythm without ``levels`` (log-uniform 0.005-0.09)
    rr_jitter: float  # relative beat-to-beat RR noise without ``levels``, 0.003-0.02
    resp_hz: float  # breathing rate, Hz
    resp_axis_deg: tuple[float, float]  # respiratory swing of the heart vector about X and Z, degrees
    mains_hz: float  # 50 or 60 Hz (where the patient is recorded)
    ectopic_dir: tuple[float, float, float]  # unit vector of the premature ventricular activation
    pac_p_rotation_deg: float  # rotation of the P vector of atrial premature beats (ectopic focus)
    qab_territory: str  # where an old infarct would be: "inferior" | "anterior"
    shape_z: tuple[float, ...] = ()  # standard-normal scores of the beat shape model (threekg.synth.shape_model)
    levels: tuple[float, ...] = ()  # target variability and noise levels (threekg.synth.levels.LEVELS order)


def sample_patient(rng: np.random.Generator, patient_id: str = "P0") -> PatientParams:
    """Draw one patient with every value inside its normal physiological range."""
    sex = "Male" if rng.random() < 0.5 else "Female"
    age = int(np.clip(rng.normal(58, 16), 18, 95))
    rot = rng.normal(0.0, [8.0, 8.0, 18.0]).clip(-30, 30)
    size = float(np.clip(rng.lognormal(0.0, 0.18), 0.65, 1.4)) * (0.9 if sex == "Female" else 1.0)
    ect = rng.normal(size=3)
    ect /= np.linalg.norm(ect)
    child = rng.spawn(1)[0]
    return PatientParams(
        patient_id=patient_id,
        age=age,
        sex=sex,
        rotation_deg=(float(rot[0]), float(rot[1]), float(rot[2])),
        size=size,
        p_amp=float(rng.uniform(0.75, 1.3)),
        t_amp=float(rng.uniform(0.7, 1.3)),
        qrs_width=float(rng.uniform(0.9, 1.05)),
        p_width=float(rng.uniform(1.0, 1.2)),
        pr_shift=float(rng.uniform(-0.01, 0.02)),
        hr_quantile=float(rng.random()),
        qtc_quantile=float(rng.random()),
        hrv=float(np.exp(rng.uniform(np.log(0.005), np.log(0.09)))),
        rr_jitter=float(rng.uniform(0.003, 0.02)),
        resp_hz=float(rng.uniform(0.2, 0.33)),
        resp_axis_deg=(float(rng.uniform(1.0, 3.0)), float(rng.uniform(1.0, 3.0))),
        mains_hz=50.0 if rng.random() < 0.6 else 60.0,
        ectopic_dir=(float(ect[0]), float(ect[1]), float(ect[2])),
        pac_p_rotation_deg=float(rng.choice([-1.0, 1.0]) * rng.uniform(60, 150)),
        qab_territory="inferior" if rng.random() < 0.5 else "anterior",
        # from a child generator: the draws above (and the labels drawn after the patient) are unchanged
        shape_z=tuple(float(z) for z in child.standard_normal(SHAPE_SCORES)),
        levels=tuple(default_levels().targets(child.standard_normal(LEVEL_SCORES)).values()),
    )


def vary_recording(patient: PatientParams, rng: np.random.Generator) -> PatientParams:
    """The same patient on another day: small pose change (+-3 degrees), rate drift, breathing."""
    rot = np.asarray(patient.rotation_deg) + rng.normal(0.0, 3.0, 3)
    return replace(
        patient,
        rotation_deg=(float(rot[0]), float(rot[1]), float(rot[2])),
        hr_quantile=float(np.clip(patient.hr_quantile + rng.normal(0.0, 0.08), 0.0, 1.0)),
        resp_hz=float(np.clip(patient.resp_hz * rng.normal(1.0, 0.08), 0.15, 0.4)),
        size=patient.size * float(rng.normal(1.0, 0.03)),
    )
