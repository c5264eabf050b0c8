"""Resumable, verified, path-safe downloads of PhysioNet ECG data sets (standard library HTTP).

    from threekg.download import download
    summary = download("ptbxl", "data/ptbxl", subset="records100", limit=10)
    print(summary.format()); assert summary.ok
"""

from threekg.download.datasets import DATASETS, Dataset, get_dataset
from threekg.download.http import NetworkError
from threekg.download.listing import Listing, RemoteFile, build_listing
from threekg.download.paths import UnsafePathError, safe_target, validate_relpath
from threekg.download.runner import DEFAULT_BASE_URL, DownloadError, DownloadSummary, download

__all__ = [
    "DATASETS",
    "DEFAULT_BASE_URL",
    "Dataset",
    "DownloadError",
    "DownloadSummary",
    "Listing",
    "NetworkError",
    "RemoteFile",
    "UnsafePathError",
    "build_listing",
    "download",
    "get_dataset",
    "safe_target",
    "validate_relpath",
]
