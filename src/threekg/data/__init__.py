"""Data layer: read, validate, resample and label ECG collections into prepared datasets.

* :func:`open_dataset` / :class:`PreparedDataset` - read a prepared dataset (memory-mapped).
* :func:`write_dataset` - write one from in-memory arrays.
* :func:`read_record` / :class:`Record` / :class:`RecordError` - one WFDB record in mV.
* :func:`prepare` - turn a collection (CinC, PTB-XL, WFDB + CSV, arrays) into a prepared dataset.
* :func:`combine_datasets` - concatenate prepared datasets (a pretraining corpus of several sources).
"""

from threekg.data.dataset import DatasetError, PreparedDataset, open_dataset, write_dataset
from threekg.data.errors import RecordError
from threekg.data.record import Record, read_record

__all__ = [
    "DatasetError",
    "PreparedDataset",
    "Record",
    "RecordError",
    "open_dataset",
    "read_record",
    "write_dataset",
]

from threekg.data.combine import combine_datasets
from threekg.data.labelsets import LABEL_SETS, LabelSet, get_label_set
from threekg.data.prepare import PrepareSummary, prepare

__all__ += ["LABEL_SETS", "LabelSet", "PrepareSummary", "combine_datasets", "get_label_set", "prepare"]
