"""Every request body is bounded, and read only after authentication (issue 12.4).

Against the real `skillpager serve`: a 20 MiB chunked upload to a form or API route is answered
413 (or 401 when anonymous) while most of it is still unsent, and the server's memory does not
grow with it. In-process: anonymous JSON calls are 401 whatever their body, malformed JSON is
400, and the wrong shape is 422 naming the field.
"""

import select
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.app import RunningApp, app_settings, running_app
from tests.support.server import LOOPBACK, ServerProcess

_TOTAL = 20 * 1024 * 1024
_PIECE = 64 * 1024


@dataclass(frozen=True)
class Upload:
    """What became of one chunked upload."""

    status: int
    sent: int  # body bytes written before the answer came (or the server stopped reading)
    seconds: float


def _frame(piece: bytes) -> bytes:
    return f"{len(piece):x}\r\n".encode() + piece + b"\r\n"


def _status(sock: socket.socket) -> int:
    answer = b""
    while b"\r\n" not in answer:
        data = sock.recv(4096)
        if not data:
            break
        answer += data
    return int(answer.split(b" ", 2)[1])


def chunked_upload(port: int, path: str, headers: dict[str, str]) -> Upload:
    """POST `_TOTAL` bytes chunked to `path`, stopping as soon as an answer arrives."""
    started = time.monotonic()
    head = f"POST {path} HTTP/1.1\r\nHost: {LOOPBACK}:{port}\r\nTransfer-Encoding: chunked\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n"
    frame, sent = _frame(b"a" * _PIECE), 0
    with socket.create_connection((LOOPBACK, port), timeout=10) as sock:
        sock.sendall(head.encode())
        while sent < _TOTAL:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            try:
                sock.sendall(frame)
            except (BrokenPipeError, ConnectionResetError, TimeoutError):
                break
            sent += _PIECE
        else:
            sock.sendall(b"0\r\n\r\n")
        return Upload(_status(sock), sent, time.monotonic() - started)


def rss_kib(pid: int) -> int:
    """A process's resident set size."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One real server for the upload probes."""
    directory = tmp_path_factory.mktemp("bodies")
    with ServerProcess(directory, env={"SKILLPAGER_SESSION_SECRET": "bodies-secret"}) as running:
        yield running


_JSON = {"Content-Type": "application/json"}
_FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("path", "headers", "authorised", "status"),
    [
        ("/signin", _FORM, False, 413),
        ("/signin/code", _FORM, False, 413),
        ("/api/silences", _JSON, True, 413),
        ("/api/incidents/1/ack", _JSON, True, 413),
        ("/api/route", _JSON, True, 413),
        ("/api/silences", _JSON, False, 401),
        ("/api/incidents/1/snooze", _JSON, False, 401),
        ("/incidents/1/notes", _FORM, False, 401),
        ("/rules/dry-run", _FORM, False, 401),
    ],
)
def test_a_huge_chunked_body_is_refused_before_it_is_read(
    server: ServerProcess, path: str, headers: dict[str, str], authorised: bool, status: int
) -> None:
    if authorised:
        headers = headers | {"Authorization": f"Bearer {server.create_token()}"}
    before = rss_kib(server.pid)
    upload = chunked_upload(server.port, path, headers)
    grown_kib = rss_kib(server.pid) - before
    assert upload.status == status, server.log_tail()
    # Answered while most of the 20 MiB was still unsent, and nothing like it was held.
    assert upload.sent < _TOTAL // 2, upload
    assert grown_kib < 8 * 1024, f"RSS grew {grown_kib} KiB"


@pytest.mark.slow
def test_a_declared_huge_body_is_refused_unread(server: ServerProcess) -> None:
    with socket.create_connection((LOOPBACK, server.port), timeout=10) as sock:
        sock.sendall(
            b"POST /signin HTTP/1.1\r\nHost: x\r\nContent-Length: 419430400\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n\r\n"
        )
        assert _status(sock) == 413


async def test_anonymous_json_calls_are_401_whatever_their_body(sqlite_app: RunningApp) -> None:
    for path in ("/api/silences", "/api/incidents/1/ack", "/api/incidents/1/handover"):
        for body in (b"{not json", b'{"matchers": 3}', b"{}"):
            answer = await sqlite_app.client.post(path, content=body, headers=_JSON)
            assert answer.status_code == 401, (path, body, answer.text)


async def test_malformed_json_is_400(sqlite_app: RunningApp) -> None:
    headers = sqlite_app.reader_headers() | _JSON
    for path in ("/api/silences", "/api/incidents/1/ack"):
        answer = await sqlite_app.client.post(path, content=b'{"matchers": [', headers=headers)
        assert answer.status_code == 400, (path, answer.text)
        assert answer.json()["error"] == "malformed request body"


async def test_the_wrong_shape_is_422_naming_the_field(sqlite_app: RunningApp) -> None:
    client, headers = sqlite_app.client, sqlite_app.reader_headers()
    answer = await client.post("/api/silences", json={"matchers": 3}, headers=headers)
    assert answer.status_code == 422, answer.text
    assert "body.matchers" in answer.json()["fields"]
    answer = await client.post("/api/incidents/1/snooze", json={"minutes": 0}, headers=headers)
    assert answer.status_code == 422, answer.text
    assert answer.json()["fields"] == ["body.minutes"]
    answer = await client.post("/api/silences", headers=headers)
    assert answer.status_code == 422, answer.text
    assert answer.json()["fields"] == ["body"]


async def test_form_and_api_limits_are_small_and_configurable(sqlite_database: str) -> None:
    settings = app_settings(sqlite_database, max_form_bytes=1000)
    async with running_app(settings) as running:
        headers = running.reader_headers() | _JSON
        note = {"note": "x" * 900}
        small = await running.client.post("/api/incidents/1/ack", json=note, headers=headers)
        assert small.status_code == 404  # read and parsed: there is no incident 1
        big = {"note": "x" * 1200}
        large = await running.client.post("/api/incidents/1/ack", json=big, headers=headers)
        assert large.status_code == 413, large.text
        form = await running.client.post("/signin", data={"token": "t" * 1200})
        assert form.status_code == 413
        assert form.headers["content-type"].startswith("text/html")
