"""The PhysioNet data sets `threekg download` knows: project slug, version, folder and file layout.

Layout facts and how far they were checked are written up in docs/download.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Dataset:
    """One downloadable PhysioNet project version.

    ``root`` is the folder (relative to ``files/<project>/<version>/``) whose files are fetched;
    ``""`` means the whole project version. ``record_extensions`` are the files each WFDB record
    listed in a ``RECORDS`` file has; ``extra_files`` are fetched as well when walking ``RECORDS``
    (they are in ``SHA256SUMS.txt`` anyway).
    """

    name: str
    title: str
    project: str
    version: str
    root: str
    record_extensions: tuple[str, ...]
    extra_files: tuple[str, ...] = field(default=())
    approx_size: str = "unknown"
    licence: str = "CC BY 4.0"

    @property
    def slug(self) -> str:
        """``<project>/<version>``, the path under the base URL."""
        return f"{self.project}/{self.version}"


DATASETS: dict[str, Dataset] = {
    "cinc2020": Dataset(
        name="cinc2020",
        title="PhysioNet/CinC Challenge 2020 training data (12-lead ECGs, 6 sources)",
        project="challenge-2020",
        version="1.0.2",
        root="training",
        record_extensions=(".hea", ".mat"),
        approx_size="~7 GB (approximate, not checked from here)",
    ),
    "cinc2021": Dataset(
        name="cinc2021",
        title="PhysioNet/CinC Challenge 2021 training data (12-lead ECGs, 8 sources)",
        project="challenge-2021",
        version="1.0.3",
        root="training",
        record_extensions=(".hea", ".mat"),
        approx_size="~9 GB (approximate, not checked from here)",
    ),
    "ptbxl": Dataset(
        name="ptbxl",
        title="PTB-XL, a large 12-lead ECG data set (100 Hz and 500 Hz WFDB records)",
        project="ptb-xl",
        version="1.0.3",
        root="",
        record_extensions=(".hea", ".dat"),
        extra_files=("ptbxl_database.csv", "scp_statements.csv"),
        approx_size="~3 GB uncompressed (approximate, not checked from here)",
    ),
}


def get_dataset(name: str) -> Dataset:
    """The :class:`Dataset` called ``name``; ``KeyError`` naming the known ones otherwise."""
    try:
        return DATASETS[name]
    except KeyError:
        raise KeyError(f"unknown data set {name!r}; known: {', '.join(DATASETS)}") from None
