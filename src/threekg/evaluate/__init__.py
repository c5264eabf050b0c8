"""Downstream evaluation: frozen embeddings once, linear probes, label fractions, metrics with CIs.

Public API: :func:`evaluate` (the grid -> metrics.json), the metrics (:func:`auroc`, :func:`auprc`,
:func:`bootstrap_ci`, :func:`paired_bootstrap`, :func:`challenge_metric`), the protocol pieces
(:func:`make_split`, :func:`label_subset`, :func:`fit_probe`, :func:`embed`), and the representation
diagnostics (:class:`DiagnosticOptions`, :mod:`threekg.evaluate.diagnostics`).
"""

from threekg.evaluate.bootstrap import bootstrap_ci, paired_bootstrap, weighted_auroc
from threekg.evaluate.challenge import challenge_metric, load_weights
from threekg.evaluate.diagnose import DiagnosticOptions
from threekg.evaluate.embeddings import cached_embeddings, embed
from threekg.evaluate.encoders import EncoderSpec, parse_encoders
from threekg.evaluate.fractions import label_subset
from threekg.evaluate.groups import load_groups
from threekg.evaluate.metrics import auprc, auroc, evaluable_classes
from threekg.evaluate.probe import fit_probe
from threekg.evaluate.runner import EvalOptions, evaluate
from threekg.evaluate.splits import make_split

__all__ = [
    "DiagnosticOptions", "EncoderSpec", "EvalOptions", "auprc", "auroc", "bootstrap_ci", "cached_embeddings", "challenge_metric",
    "embed", "evaluable_classes", "evaluate", "fit_probe", "label_subset", "load_groups", "load_weights",
    "make_split", "paired_bootstrap", "parse_encoders", "weighted_auroc",
]
