"""Loading SNS signing certificates: pinned directory, HTTPS fetch (served locally), cache."""

import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from app.ingest.sns import SnsRejected
from app.ingest.sns_certs import MAX_CERT_BYTES, SnsCertStore, SnsCertUnavailable
from tests.ingest.sns_keys import make_signer

CERT_NAME = "SimpleNotificationService-0123456789abcdef.pem"
CERT_URL = f"https://sns.eu-west-1.amazonaws.com/{CERT_NAME}"
PEM = make_signer().cert_pem


@dataclass
class FakeSns:
    """A local HTTP server standing in for sns.<region>.amazonaws.com."""

    port: int
    responses: dict[str, tuple[int, bytes, dict[str, str]]] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)


class _LoopbackTransport(httpx.AsyncBaseTransport):
    """Sends every request to the fake server, keeping its path and Host header."""

    def __init__(self, port: int) -> None:
        self._port = port
        self._inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        request.url = request.url.copy_with(scheme="http", host="127.0.0.1", port=self._port)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


@pytest.fixture
def fake_sns() -> Iterator[FakeSns]:
    state = FakeSns(port=0)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append((self.headers["Host"], self.path))
            status, payload, headers = state.responses.get(self.path, (404, b"NoSuchKey", {}))
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:
            pass  # keep the test output clean

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
async def client(fake_sns: FakeSns) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=_LoopbackTransport(fake_sns.port)) as http:
        yield http


async def test_fetched_cert_is_cached(fake_sns: FakeSns, client: httpx.AsyncClient) -> None:
    fake_sns.responses[f"/{CERT_NAME}"] = (200, PEM, {})
    store = SnsCertStore(client=client)
    assert await store.load(CERT_URL) == PEM
    assert await store.load(CERT_URL) == PEM
    assert fake_sns.requests == [("sns.eu-west-1.amazonaws.com", f"/{CERT_NAME}")]


async def test_pinned_cert_is_used_without_fetching(
    tmp_path: Path, fake_sns: FakeSns, client: httpx.AsyncClient
) -> None:
    (tmp_path / CERT_NAME).write_bytes(PEM)
    store = SnsCertStore(certs_dir=tmp_path, client=client)
    assert await store.load(CERT_URL) == PEM
    assert fake_sns.requests == []


async def test_cert_missing_from_pinned_dir_is_fetched(
    tmp_path: Path, fake_sns: FakeSns, client: httpx.AsyncClient
) -> None:
    fake_sns.responses[f"/{CERT_NAME}"] = (200, PEM, {})
    store = SnsCertStore(certs_dir=tmp_path, client=client)
    assert await store.load(CERT_URL) == PEM
    assert len(fake_sns.requests) == 1


@pytest.mark.parametrize(
    "url",
    [
        f"https://evil.example/{CERT_NAME}",
        f"https://sns.eu-west-1.amazonaws.com.evil.example/{CERT_NAME}",
        f"http://sns.eu-west-1.amazonaws.com/{CERT_NAME}",
        "https://sns.eu-west-1.amazonaws.com/cert.txt",
    ],
)
async def test_spoofed_url_is_never_fetched(
    fake_sns: FakeSns, client: httpx.AsyncClient, url: str
) -> None:
    with pytest.raises(SnsRejected, match="SigningCertURL"):
        await SnsCertStore(client=client).load(url)
    assert fake_sns.requests == []


@pytest.mark.parametrize(
    ("response", "error", "reason"),
    [
        ((404, b"NoSuchKey", {}), SnsRejected, "404"),
        ((302, b"", {"Location": "https://evil.example/x.pem"}), SnsRejected, "302"),
        ((200, b"<html>hello</html>", {}), SnsRejected, "not a PEM"),
        ((200, b"A" * (MAX_CERT_BYTES + 1), {}), SnsRejected, "large"),
        ((503, b"Slow Down", {}), SnsCertUnavailable, "503"),
    ],
)
async def test_bad_fetch_is_refused_and_not_cached(
    fake_sns: FakeSns,
    client: httpx.AsyncClient,
    response: tuple[int, bytes, dict[str, str]],
    error: type[Exception],
    reason: str,
) -> None:
    fake_sns.responses[f"/{CERT_NAME}"] = response
    store = SnsCertStore(client=client)
    with pytest.raises(error, match=reason):
        await store.load(CERT_URL)
    fake_sns.responses[f"/{CERT_NAME}"] = (200, PEM, {})
    assert await store.load(CERT_URL) == PEM
    # The redirect was not followed: only our two requests reached the fake server.
    assert [path for _, path in fake_sns.requests] == [f"/{CERT_NAME}"] * 2


async def test_unreachable_sns_is_unavailable_not_rejected() -> None:
    # Port 9 (discard) on loopback is closed here: the connection is refused at once.
    async with httpx.AsyncClient(transport=_LoopbackTransport(9)) as http:
        with pytest.raises(SnsCertUnavailable, match="ConnectError"):
            await SnsCertStore(client=http).load(CERT_URL)
