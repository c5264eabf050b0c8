"""Data layer: read, validate, resample and label ECG collections into prepared datasets.

* :func:`open_dataset` / :class:`PreparedDataset` - read a prepared dataset (memory-mapped).
* :func:`write_dataset` - write one from in-memory arrays.
* :func:`read_record` / :class:`Record` / :class:`RecordError` - one WFDB record in mV.
* :func:`prepare` - turn a collection (CinC, PTB-XL, WFDB + CSV, arrays) into a prepared dataset.

Names are imported lazily (PEP 562), so that a prepare worker importing
``threekg.data.worker`` does not pay for ``pandas``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from threekg.data.dataset import DatasetError, PreparedDataset, open_dataset, write_dataset
    from threekg.data.errors import RecordError
    from threekg.data.labelsets import LABEL_SETS, LabelSet, get_label_set
    from threekg.data.prepare import PrepareSummary, prepare
    from threekg.data.record import Record, read_record

_WHERE = {
    "DatasetError": "dataset", "PreparedDataset": "dataset", "open_dataset": "dataset", "write_dataset": "dataset",
    "RecordError": "errors", "Record": "record", "read_record": "record",
    "LABEL_SETS": "labelsets", "LabelSet": "labelsets", "get_label_set": "labelsets",
    "PrepareSummary": "prepare", "prepare": "prepare",
}

__all__ = [
    "LABEL_SETS",
    "DatasetError",
    "LabelSet",
    "PrepareSummary",
    "PreparedDataset",
    "Record",
    "RecordError",
    "get_label_set",
    "open_dataset",
    "prepare",
    "read_record",
    "write_dataset",
]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(importlib.import_module(f"threekg.data.{_WHERE[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'threekg.data' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
