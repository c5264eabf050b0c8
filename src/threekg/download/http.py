"""HTTP(S) with the standard library: clear one-line errors, retries with backoff, Range requests."""

from __future__ import annotations

import http.client
import socket
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import TypeVar

USER_AGENT = "threekg-download/0.1 (+https://physionet.org; urllib)"
T = TypeVar("T")


class NetworkError(RuntimeError):
    """A failed request; ``str()`` names the URL and the reason. ``retryable`` says whether trying
    again can help (timeouts, refused/reset connections, 5xx, 429) or not (404, 403, ...)."""

    def __init__(self, url: str, reason: str, retryable: bool, status: int | None = None) -> None:
        self.url = url
        self.reason = reason
        self.retryable = retryable
        self.status = status
        super().__init__(f"{url}: {reason}")


def describe(url: str, exc: BaseException, timeout: float) -> NetworkError:
    """Turn a urllib/socket/http.client exception into a :class:`NetworkError`."""
    if isinstance(exc, NetworkError):
        return exc
    if isinstance(exc, urllib.error.HTTPError):
        reason = f"HTTP {exc.code} {exc.reason}"
        if exc.code in (401, 403):
            reason += " (PhysioNet may require signing in and agreeing to the project's terms)"
        return NetworkError(url, reason, retryable=exc.code in (408, 429) or exc.code >= 500, status=exc.code)
    inner: object = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(inner, socket.gaierror):
        return NetworkError(url, f"DNS lookup failed ({inner.strerror or inner})", retryable=True)
    if isinstance(inner, ConnectionRefusedError):
        return NetworkError(url, "connection refused", retryable=True)
    if isinstance(inner, (TimeoutError, socket.timeout)):
        return NetworkError(url, f"timed out after {timeout:g} s", retryable=True)
    if isinstance(inner, ssl.SSLError):
        return NetworkError(url, f"TLS error ({inner})", retryable=False)
    if isinstance(inner, http.client.IncompleteRead):
        return NetworkError(url, f"connection dropped after {len(inner.partial)} bytes of the body",
                            retryable=True)
    if isinstance(inner, (ConnectionError, http.client.HTTPException)):
        return NetworkError(url, f"connection failed ({type(inner).__name__}: {inner})", retryable=True)
    if isinstance(inner, OSError):
        return NetworkError(url, f"network error ({inner.strerror or inner})", retryable=True)
    return NetworkError(url, f"{type(exc).__name__}: {exc}", retryable=False)


NETWORK_EXCEPTIONS: tuple[type[BaseException], ...] = (
    urllib.error.URLError, http.client.HTTPException, OSError, NetworkError,
)


def with_retries(fn: Callable[[], T], url: str, retries: int, backoff: float, timeout: float,
                 on_retry: Callable[[NetworkError], None] | None = None) -> T:
    """Call ``fn`` up to ``retries + 1`` times; retryable network failures wait
    ``backoff * 2**attempt`` seconds (capped at 60 s) before the next try. Raises the last
    :class:`NetworkError`."""
    attempt = 0
    while True:
        try:
            return fn()
        except NETWORK_EXCEPTIONS as exc:
            err = describe(url, exc, timeout)
            if not err.retryable or attempt >= retries:
                raise err from None
            if on_retry is not None:
                on_retry(err)
            time.sleep(min(60.0, backoff * 2**attempt))
            attempt += 1


def request(url: str, timeout: float, method: str = "GET",
            headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
    """Open ``url``; the caller closes the response. Raises urllib's exceptions."""
    req = urllib.request.Request(url, method=method, headers={"User-Agent": USER_AGENT, **(headers or {})})
    resp: http.client.HTTPResponse = urllib.request.urlopen(req, timeout=timeout)
    return resp


def fetch_text(url: str, timeout: float, retries: int, backoff: float,
               max_bytes: int = 256 * 1024 * 1024) -> str:
    """GET a (small) text file, e.g. ``SHA256SUMS.txt`` or ``RECORDS``, as UTF-8."""

    def once() -> str:
        with request(url, timeout) as resp:
            data = resp.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise NetworkError(url, f"listing larger than {max_bytes} bytes; refusing", retryable=False)
        return data.decode("utf-8", errors="replace")

    return with_retries(once, url, retries, backoff, timeout)


def head_size(url: str, timeout: float, retries: int, backoff: float) -> int | None:
    """``Content-Length`` of ``url`` from a HEAD request, ``None`` when the server does not say."""

    def once() -> int | None:
        with request(url, timeout, method="HEAD") as resp:
            length = resp.headers.get("Content-Length")
        return int(length) if length is not None and length.strip().isdigit() else None

    return with_retries(once, url, retries, backoff, timeout)
