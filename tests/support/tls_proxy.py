"""HTTPS in front of a plain HTTP service on 127.0.0.1, with a fresh self-signed certificate:
the HTTPS reverse proxy the README puts before skillpager, small enough for a test."""

import asyncio
import contextlib
import ipaddress
import ssl
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Self

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support.server import LOOPBACK, free_port

_CHUNK = 65536


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (its own CA) and its key, as PEM files in `directory`."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, LOOPBACK)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(LOOPBACK))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "proxy.crt", directory / "proxy.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class TlsProxy:
    """Terminates TLS on a free port and pipes every connection to `upstream_port`, on an event
    loop of its own thread; `ca_file` is the certificate a client must trust."""

    def __init__(self, upstream_port: int, directory: Path) -> None:
        self.ca_file, key_file = self_signed(directory)
        self._context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._context.load_cert_chain(self.ca_file, key_file)
        self._upstream = upstream_port
        self.port = free_port()
        self.base_url = f"https://{LOOPBACK}:{self.port}"
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()  # both ends of every live connection
        self._piping: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        """Listen (returns once the port accepts connections)."""
        self._thread.start()
        started = asyncio.run_coroutine_threadsafe(self._listen(), self._loop)
        self._server = started.result(timeout=10)

    def stop(self) -> None:
        """Close the listener and stop the thread."""
        if self._server is not None:
            asyncio.run_coroutine_threadsafe(self._close(self._server), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts this proxy's certificate only."""
        return ssl.create_default_context(cafile=str(self.ca_file))

    async def _listen(self) -> asyncio.Server:
        return await asyncio.start_server(self._serve, LOOPBACK, self.port, ssl=self._context)

    async def _close(self, server: asyncio.Server) -> None:
        server.close()
        # Kept-alive client connections would hold wait_closed (and leak their transports).
        for writer in list(self._open):
            writer.close()
        await asyncio.gather(*self._piping, return_exceptions=True)
        await server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(LOOPBACK, self._upstream)
        self._open |= {writer, up_writer}
        task = asyncio.current_task()
        if task is not None:
            self._piping.add(task)
        try:
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            self._open -= {writer, up_writer}
            if task is not None:
                self._piping.discard(task)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(_CHUNK):
            writer.write(chunk)
            await writer.drain()
    except (ConnectionError, ssl.SSLError):
        pass  # the other side went away: close this one too
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError, ssl.SSLError):  # closed already, this side
            await writer.wait_closed()
