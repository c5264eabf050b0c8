"""Classification of network failures into one-line, URL-naming errors (no network used)."""

from __future__ import annotations

import email.message
import http.client
import socket
import urllib.error

import pytest

from threekg.download.http import describe, with_retries

URL = "https://physionet.org/files/x/1/RECORDS"


@pytest.mark.parametrize(("exc", "text", "retryable"), [
    (urllib.error.URLError(socket.gaierror(-2, "Name or service not known")), "DNS lookup failed", True),
    (urllib.error.URLError(ConnectionRefusedError(111, "refused")), "connection refused", True),
    (urllib.error.URLError(TimeoutError("timed out")), "timed out after 7 s", True),
    (TimeoutError("read timed out"), "timed out after 7 s", True),
    (ConnectionResetError(104, "reset"), "connection failed", True),
    (http.client.IncompleteRead(b"abc", 10), "dropped after 3 bytes", True),
    (urllib.error.HTTPError(URL, 404, "Not Found", email.message.Message(), None), "HTTP 404 Not Found", False),
    (urllib.error.HTTPError(URL, 403, "Forbidden", email.message.Message(), None), "agreeing to the project's terms",
     False),
    (urllib.error.HTTPError(URL, 503, "Service Unavailable", email.message.Message(), None), "HTTP 503", True),
])
def test_describe(exc: BaseException, text: str, retryable: bool) -> None:
    err = describe(URL, exc, timeout=7)
    assert text in str(err) and str(err).startswith(URL + ": ") and "\n" not in str(err)
    assert err.retryable is retryable


def test_with_retries_stops_after_retries_and_on_permanent_errors() -> None:
    calls: list[int] = []

    def refused() -> None:
        calls.append(1)
        raise ConnectionRefusedError(111, "refused")

    with pytest.raises(Exception, match="connection refused"):
        with_retries(refused, URL, retries=2, backoff=0.0, timeout=1)
    assert len(calls) == 3
    calls.clear()

    def gone() -> None:
        calls.append(1)
        raise urllib.error.HTTPError(URL, 404, "Not Found", email.message.Message(), None)

    with pytest.raises(Exception, match="HTTP 404"):
        with_retries(gone, URL, retries=5, backoff=0.0, timeout=1)
    assert len(calls) == 1
