"""Physiological synthetic 12-lead ECGs from a 3-D sum-of-Gaussians heart dipole.

Python API::

    from threekg.synth import sample_patient, generate_record, generate_batch, write_challenge_tree
    patient = sample_patient(np.random.default_rng(0))
    ecg, meta = generate_record(patient, ["NSR", "RBBB"], fs=500, seconds=10, rng=np.random.default_rng(1))
    signals, labels, metas = generate_batch(64, seed=0)            # (64, 12, 5000) float32 mV
    write_challenge_tree("synthetic", n=1000, seed=0)               # CinC-2020-style WFDB tree

See docs/synth.md.
"""

from threekg.synth.challenge import write_challenge_tree
from threekg.synth.generate import generate_batch, generate_record, generate_records, record_plan
from threekg.synth.labels import CLASSES, class_codes, sample_labels
from threekg.synth.patient import PatientParams, sample_patient

__all__ = [
    "CLASSES",
    "PatientParams",
    "class_codes",
    "generate_batch",
    "generate_record",
    "generate_records",
    "record_plan",
    "sample_labels",
    "sample_patient",
    "write_challenge_tree",
]
