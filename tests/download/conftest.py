"""A small PhysioNet-layout tree and a threaded HTTP server on 127.0.0.1 (with Range support) that
serves it, with switchable faults: dropped connections, ignored Range, corrupted bytes, delays."""

from __future__ import annotations

import hashlib
import re
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

BIG = "training/cpsc_2018/g1/A0002.mat"  # the file large enough to interrupt mid-way


def _write(root: Path, rel: str, data: bytes) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def write_sums(version_root: Path, extra_lines: tuple[str, ...] = ()) -> None:
    """Write SHA256SUMS.txt (sha256sum format) for every file under ``version_root``."""
    lines = []
    for path in sorted(p for p in version_root.rglob("*") if p.is_file() and p.name != "SHA256SUMS.txt"):
        rel = path.relative_to(version_root).as_posix()
        lines.append(f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {rel}")
    (version_root / "SHA256SUMS.txt").write_text("\n".join([*lines, *extra_lines]) + "\n")


def build_challenge_tree(root: Path, project: str = "challenge-2020", version: str = "1.0.2",
                         sums: bool = True, seed: int = 0) -> Path:
    """``root/<project>/<version>/`` with training/{cpsc_2018,georgia}/g1 records (.hea + .mat),
    RECORDS files at every level, a root CSV outside training/, and optionally SHA256SUMS.txt."""
    rng = np.random.default_rng(seed)
    vroot = root / project / version
    folders = {"training/cpsc_2018/g1": ["A0001", "A0002", "A0003"], "training/georgia/g1": ["E00001", "E00002"]}
    _write(vroot, "RECORDS", "".join(f"{f}/\n" for f in folders).encode())
    _write(vroot, "dx_mapping_scored.csv", b"Dx,SNOMEDCTCode\nAF,164889003\n")
    for folder, names in folders.items():
        _write(vroot, f"{folder}/RECORDS", "".join(f"{n}\n" for n in names).encode())
        for name in names:
            n_bytes = 300_000 if f"{folder}/{name}.mat" == BIG else int(rng.integers(1_000, 20_000))
            _write(vroot, f"{folder}/{name}.hea", f"{name} 12 500 5000\n#Dx: 164889003\n".encode())
            _write(vroot, f"{folder}/{name}.mat", rng.integers(0, 256, n_bytes, dtype=np.uint8).tobytes())
    if sums:
        write_sums(vroot)
    return vroot


def build_ptbxl_tree(root: Path, sums: bool = False) -> Path:
    """``root/ptb-xl/1.0.3/`` with records100 and records500 (.hea + .dat), the CSVs and RECORDS."""
    rng = np.random.default_rng(1)
    vroot = root / "ptb-xl" / "1.0.3"
    recs = []
    for i in (1, 2, 3):
        for folder, suffix in (("records100", "lr"), ("records500", "hr")):
            rec = f"{folder}/00000/{i:05d}_{suffix}"
            recs.append(rec)
            _write(vroot, rec + ".hea", f"{i:05d}_{suffix} 12 100 1000\n".encode())
            _write(vroot, rec + ".dat", rng.integers(0, 256, 2_000 * (1 + i), dtype=np.uint8).tobytes())
    _write(vroot, "RECORDS", "".join(f"{r}\n" for r in sorted(recs)).encode())
    _write(vroot, "ptbxl_database.csv", b"ecg_id,patient_id,filename_lr\n1,10,records100/00000/00001_lr\n")
    _write(vroot, "scp_statements.csv", b",description\nNORM,normal ECG\n")
    if sums:
        write_sums(vroot)
    return vroot


@dataclass
class ServerConfig:
    """Behaviour of the test server; ``log`` collects (method, path, Range header or None)."""

    root: Path
    support_range: bool = True
    drop_after: dict[str, int] = field(default_factory=dict)  # path -> bytes sent on the first GET
    corrupt: set[str] = field(default_factory=set)
    delay: dict[str, float] = field(default_factory=dict)
    throttle: dict[str, float] = field(default_factory=dict)  # path -> seconds between 16 KB chunks
    log: list[tuple[str, str, str | None]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def gets(self, path: str) -> list[str | None]:
        """Range headers of the GETs of ``path`` (None when there was no Range)."""
        with self.lock:
            return [r for m, p, r in self.log if m == "GET" and p == path]


def _handler(cfg: ServerConfig) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

        def _serve(self, head: bool) -> None:
            rel = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path).lstrip("/")
            rng = self.headers.get("Range")
            with cfg.lock:
                cfg.log.append(("HEAD" if head else "GET", rel, rng))
                first = not head and sum(1 for m, p, _ in cfg.log if m == "GET" and p == rel) == 1
            time.sleep(cfg.delay.get(rel, 0.0))
            path = cfg.root.joinpath(*rel.split("/"))
            if ".." in rel.split("/") or not path.resolve().is_relative_to(cfg.root.resolve()) or not path.is_file():
                self.send_error(404, "Not Found")
                return
            data = path.read_bytes()
            if rel in cfg.corrupt:
                data = bytes(b ^ 0xFF for b in data[:16]) + data[16:]
            start = 0
            m = re.fullmatch(r"bytes=(\d+)-", rng or "")
            if cfg.support_range and m is not None:
                start = int(m.group(1))
                if start >= len(data):
                    self.send_error(416, "Range Not Satisfiable")
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                self.send_response(200)
            body = data[start:]
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if head:
                return
            if first and rel in cfg.drop_after:
                self.wfile.write(body[: cfg.drop_after[rel]])
                self.wfile.flush()
                self.close_connection = True
                return
            if rel in cfg.throttle:
                for i in range(0, len(body), 16_384):
                    self.wfile.write(body[i:i + 16_384])
                    self.wfile.flush()
                    time.sleep(cfg.throttle[rel])
                return
            self.wfile.write(body)

        def do_GET(self) -> None:
            try:
                self._serve(head=False)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout tests)

        def do_HEAD(self) -> None:
            self._serve(head=True)

    return Handler


@contextmanager
def serve(cfg: ServerConfig) -> Iterator[str]:
    """Serve ``cfg.root`` on 127.0.0.1 (free port); yields the base URL; stops on exit."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(cfg))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def challenge_tree(tmp_path: Path) -> Path:
    """The server root (holding challenge-2020/1.0.2/) for a tree with SHA256SUMS.txt."""
    build_challenge_tree(tmp_path / "server")
    return tmp_path / "server"


def tree_files(vroot: Path, under: str = "") -> dict[str, bytes]:
    """Every file under ``vroot/under`` as {relative posix path: bytes}."""
    base = vroot / under if under else vroot
    return {p.relative_to(vroot).as_posix(): p.read_bytes() for p in base.rglob("*") if p.is_file()}
