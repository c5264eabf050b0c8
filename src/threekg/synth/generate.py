"""The generator's Python API: one record, or a batch of records, in memory.

Randomness: every record draws from its own generator, ``record_rng(seed, index)``, and every
patient from ``patient_rng(seed, patient_index)``, so a record is the same whatever the batch size
or number of workers. Noise is drawn last, so ``noise=False`` gives the clean version of exactly
the same record.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from threekg.synth.beats import beat_parameters
from threekg.synth.labels import class_codes, sample_labels, validate_labels
from threekg.synth.levels import LEVELS
from threekg.synth.noise import draw_noise
from threekg.synth.patient import PatientParams, sample_patient, vary_recording
from threekg.synth.render import AtrialWaves, RecordSpec, render, rotation_matrix
from threekg.synth.rhythm import BeatSchedule, schedule_beats
from threekg.synth.shape_beat import patient_beat

AXIS_RANGES_DEG: dict[str, tuple[float, float]] = {"normal": (-15.0, 80.0), "LAD": (-75.0, -40.0),
                                                   "RAD": (105.0, 160.0), "LAnFB": (-80.0, -52.0)}
"""Frontal QRS axis ranges (criteria: LAD < -30, RAD > +90, LAnFB -45 to -90; normal -30 to +90, kept
with margins)."""
ORIENTATION_SCALE = 0.3
"""The patient's heart orientation drawn (s.d. 8, 8, 18 degrees) is applied at this fraction: the
shape-model beat already has a real record's orientation (its axis spread is the real one)."""
LOW_VOLTAGE_MV = (0.25, 0.42)
"""LQRSV: largest limb-lead QRS peak-to-peak (criterion < 0.5 mV)."""


def patient_rng(seed: int, patient_index: int) -> np.random.Generator:
    """The generator of patient ``patient_index`` of data set ``seed``."""
    return np.random.default_rng([seed, patient_index, 0])


def record_rng(seed: int, index: int) -> np.random.Generator:
    """The generator of record ``index`` of data set ``seed``."""
    return np.random.default_rng([seed, index, 1])


def patient_id(patient_index: int) -> str:
    """Patient id written in headers, e.g. ``SYNP000001``."""
    return f"SYNP{patient_index + 1:06d}"


def _atrial_waves(labels: list[str], sched: BeatSchedule, rng: np.random.Generator) -> AtrialWaves | None:
    """Fibrillatory waves (AF: 5-7.5 Hz, 0.025-0.07 mV) or flutter waves (AFL: 0.08-0.2 mV), else None."""
    if "AF" in labels:
        f0, df, amp = rng.uniform(5.0, 7.5), rng.uniform(0.3, 1.0), rng.uniform(0.025, 0.07)
        phases = rng.uniform(0, 2 * np.pi, 3)
        direction = np.array([-0.35, 0.45, -0.8]) + rng.normal(0.0, 0.15, 3)
        kind = "af"
    elif "AFL" in labels:
        assert sched.flutter is not None
        cycle, trough = sched.flutter
        f0, df, amp = 1.0 / cycle, 0.0, rng.uniform(0.08, 0.2)
        phases = np.array([2 * np.pi * f0 * trough, 0.0, 0.0])
        direction = np.array([0.1, 0.9, -0.4]) + rng.normal(0.0, 0.1, 3)
        kind = "flutter"
    else:
        return None
    d = direction / np.linalg.norm(direction)
    return AtrialWaves(kind, float(f0), float(df), float(amp), float(phases[0]), float(phases[1]),
                       float(phases[2]), (float(d[0]), float(d[1]), float(d[2])))


def make_spec(
    patient: PatientParams,
    labels: list[str],
    fs: float,
    seconds: float,
    rng: np.random.Generator,
    noise: bool = True,
) -> tuple[RecordSpec, dict[str, Any]]:
    """Draw everything random about one record (beats, morphology, axis, noise) from ``rng``."""
    validate_labels(labels)
    n = round(seconds * fs)
    sched = schedule_beats(labels, patient, seconds, rng)
    beat = patient_beat(patient.shape_z)
    amp, centre, sigma, group, drawn, waves = beat_parameters(labels, patient, sched, rng, beat)
    axis_key = "LAnFB" if "LAnFB" in labels else "LAD" if "LAD" in labels else "RAD" if "RAD" in labels \
        else "normal"
    axis_u = float(rng.random())
    # The shape-model beat has the frontal axis of a real normal record: a normal QRS keeps it (clamped
    # into the normal range), as does a bundle-branch, non-specific or paced QRS.
    low_v = float(rng.uniform(*LOW_VOLTAGE_MV))
    atrial = _atrial_waves(labels, sched, rng)
    resp = (patient.resp_hz, float(rng.uniform(0, 2 * np.pi)), *np.deg2rad(patient.resp_axis_deg))
    targets = dict(zip(LEVELS, patient.levels, strict=True)) if patient.levels else None
    noise_arr, levels = draw_noise(rng, fs, n, patient.mains_hz, targets)  # last: noise=False keeps the rest
    # the P wave of atrial premature beats comes from another focus; a junctional rhythm's is retrograde
    ectopic_p = np.diag([1.0, -1.0, 1.0]) if "Brady" in labels else \
        rotation_matrix((0.0, 0.0, patient.pac_p_rotation_deg))
    spec = RecordSpec(
        r_times=sched.r_times,
        amp=amp,
        centre=centre,
        sigma=sigma,
        group=group,
        rotation=rotation_matrix(ORIENTATION_SCALE * np.asarray(patient.rotation_deg)),
        pac_rotation=ectopic_p,
        axis_range_deg=AXIS_RANGES_DEG[axis_key],
        axis_u=axis_u,
        normal_axis=axis_key == "normal",
        low_voltage_mv=low_v if "LQRSV" in labels else None,
        normal_qrs=not ({"RBBB", "LBBB", "NSIVCB", "PR"} & set(labels)),
        atrial=atrial,
        resp=(float(resp[0]), float(resp[1]), float(resp[2]), float(resp[3])),
        noise=noise_arr if noise else None,
        waves=waves,
        beat=beat.waves,
    )
    codes = class_codes()
    meta: dict[str, Any] = {
        "patient_id": patient.patient_id,
        "age": patient.age,
        "sex": patient.sex,
        "labels": list(labels),
        "codes": [codes[x] for x in labels],
        "hr_bpm": sched.hr_bpm,
        "n_beats_in_record": int(np.sum((sched.r_times >= 0) & (sched.r_times < seconds))),
        "beat_kinds": sched.kind[(sched.r_times >= 0) & (sched.r_times < seconds)].tolist(),
        "r_times_s": sched.r_times[(sched.r_times >= 0) & (sched.r_times < seconds)].tolist(),
        **drawn,
        **({f"noise_{k}": v for k, v in levels.items()} if noise else {}),
    }
    return spec, meta


def generate_record(
    patient: PatientParams,
    labels: list[str],
    fs: float = 500.0,
    seconds: float = 10.0,
    rng: np.random.Generator | None = None,
    noise: bool = True,
) -> tuple[np.ndarray, dict[str, Any]]:
    """One 12-lead record of ``patient`` with diagnosis ``labels`` (class names, e.g. ``["NSR", "RBBB"]``).

    Returns:
        ecg: (12, T) float64, mV, :data:`threekg.leads.LEADS` order, T = round(seconds * fs).
        meta: patient id, age, sex, labels, SNOMED codes, heart rate, R times, drawn intervals, ...
    """
    spec, meta = make_spec(patient, labels, fs, seconds, rng or np.random.default_rng(), noise)
    ecg, info = render([spec], fs, round(seconds * fs))
    meta.update(info[0])
    return ecg[0], meta


def record_plan(index: int, seed: int, recordings_per_patient: int = 1,
                prevalence: Mapping[str, float] | None = None) -> tuple[PatientParams, list[str]]:
    """The patient (with this recording's small variations) and labels of record ``index`` of a data set.

    ``prevalence``: every class's probability (default: :func:`threekg.synth.labels.default_prevalence`).
    """
    if recordings_per_patient < 1:
        raise ValueError(f"recordings_per_patient must be >= 1, got {recordings_per_patient}")
    p_index, visit = divmod(index, recordings_per_patient)
    prng = patient_rng(seed, p_index)
    patient = sample_patient(prng, patient_id(p_index))
    labels = sample_labels(prng, prevalence)
    if visit > 0:
        patient = vary_recording(patient, np.random.default_rng([seed, p_index, 2, visit]))
    return patient, labels


def generate_records(
    indices: list[int] | range,
    seed: int,
    fs: float = 500.0,
    seconds: float = 10.0,
    recordings_per_patient: int = 1,
    noise: bool = True,
    prevalence: Mapping[str, float] | None = None,
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Records ``indices`` of data set ``seed``, rendered as one vectorised batch: ((N, 12, T) mV, metas).

    ``prevalence``: every class's probability (see :func:`threekg.synth.labels.resolve_prevalence`).
    """
    specs, metas = [], []
    for index in indices:
        patient, labels = record_plan(index, seed, recordings_per_patient, prevalence)
        spec, meta = make_spec(patient, labels, fs, seconds, record_rng(seed, index), noise)
        specs.append(spec)
        metas.append({"index": int(index), **meta})
    ecg, info = render(specs, fs, round(seconds * fs))
    for meta, extra in zip(metas, info, strict=True):
        meta.update(extra)
    return ecg, metas


def generate_batch(
    n: int,
    seed: int,
    fs: float = 500.0,
    seconds: float = 10.0,
    recordings_per_patient: int = 1,
    noise: bool = True,
    prevalence: Mapping[str, float] | None = None,
) -> tuple[np.ndarray, list[list[str]], list[dict[str, Any]]]:
    """The first ``n`` records of data set ``seed`` in memory (``prevalence``: as :func:`generate_records`).

    Returns:
        signals: (n, 12, T) float32, mV, LEADS order.
        labels: per record, its class names (rhythm first).
        meta: per record, the metadata of :func:`generate_record` plus ``index``.
    """
    ecg, metas = generate_records(range(n), seed, fs, seconds, recordings_per_patient, noise, prevalence)
    return ecg.astype(np.float32), [m["labels"] for m in metas], metas
