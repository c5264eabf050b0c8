"""Download a PhysioNet ECG data set over HTTPS: resumable, checksum-verified, path-safe.

Files keep their PhysioNet layout under DEST (e.g. DEST/training/georgia/g1/E00001.hea).
The file list and SHA-256 checksums come from the project's SHA256SUMS.txt; without it the
RECORDS files are walked (sizes checked, no checksums). Interrupted runs resume: re-run the same
command and finished files are skipped, partial ones (NAME.part) continued with HTTP Range.

Data sets (PhysioNet project / version / approximate size, not checked from here):
{datasets}

Licence: these three data sets are published under CC BY 4.0 (cite the data set and PhysioNet).
PhysioNet may require signing in and agreeing to terms for some projects; those answer HTTP 403.

Examples:
  threekg download ptbxl --dest data/ptbxl --subset records100 --limit 20   # try it out
  threekg download cinc2021 --dest data/cinc2021 --subset training/georgia
  threekg download cinc2020 --dest data/cinc2020 --workers 8                # everything

Exit status: 0 when every file is in place; 2 for bad options, an unreachable file list, or when a
file failed or a remote name was rejected (listed at the end; re-run to finish); 130 when
interrupted (re-run to resume).
"""

from __future__ import annotations

import argparse

from threekg.download.datasets import DATASETS

__doc__ = (__doc__ or "").format(datasets="\n".join(
    f"  {d.name:9s} {d.project}/{d.version}/{d.root + '/' if d.root else ''}  {d.approx_size}\n"
    f"            {d.title}" for d in DATASETS.values()))

HELP = "download PhysioNet/CinC 2020, 2021 or PTB-XL (resumable, verified)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `threekg download`."""
    parser.add_argument("dataset", choices=sorted(DATASETS), help="which data set")
    parser.add_argument("--dest", required=True, help="destination folder (created; one per data set)")
    parser.add_argument("--base-url", default="https://physionet.org/files/",
                        help="server root holding <project>/<version>/ (default: %(default)s)")
    parser.add_argument("--subset", default=None,
                        help="only this folder, relative to the project version (e.g. training/georgia, "
                             "or records100 for PTB-XL); for the challenges 'georgia' means training/georgia")
    parser.add_argument("--limit", type=int, default=None, help="at most N records (to try it out)")
    parser.add_argument("--workers", type=int, default=4,
                        help="parallel connections (default: %(default)s; polite to PhysioNet)")
    parser.add_argument("--retries", type=int, default=3,
                        help="retries per file after a network failure or checksum mismatch (default: %(default)s)")
    parser.add_argument("--timeout", type=float, default=30.0,
                        help="seconds without data before a connection is abandoned (default: %(default)s)")
    parser.add_argument("--backoff", type=float, default=1.0,
                        help="first retry waits this many seconds, doubling each time (default: %(default)s)")
    parser.add_argument("--no-verify", action="store_true",
                        help="do not check SHA-256 checksums (sizes only); not recommended")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    """Run the download and print the summary; see the module docstring for exit codes."""
    from threekg.download.runner import DownloadError, download

    summary = download(args.dataset, args.dest, base_url=args.base_url, subset=args.subset,
                       limit=args.limit, workers=args.workers, retries=args.retries,
                       timeout=args.timeout, verify=not args.no_verify, backoff=args.backoff,
                       progress=not args.no_progress)
    print(summary.format())
    if not summary.ok:
        raise DownloadError(f"{len(summary.failed) + len(summary.rejected)} file(s) not in place below {args.dest} "
                            "(listed above)", hint="fix the cause and re-run the same command to finish")
    return 0
