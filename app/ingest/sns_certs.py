"""SNS signing certificates: a pinned directory first, else an HTTPS fetch from SNS, cached.

Only URLs that pass `sns.check_sns_url` are ever read or fetched.
"""

import asyncio
import re
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import httpx
from cryptography import x509

from app.ingest.sns import SnsRejected, check_sns_url

MAX_CERT_BYTES = 64 * 1024
MAX_CACHED = 64
_PEM_NAME = re.compile(r"[A-Za-z0-9._-]+\.pem")


class SnsCertUnavailable(Exception):
    """The certificate could not be fetched just now: answer 503 so SNS retries later."""


class SnsCertStore:
    """Load signing certificates by URL; `client` is injectable so tests can serve them locally."""

    def __init__(
        self,
        *,
        certs_dir: Path | None = None,
        client: httpx.AsyncClient | None = None,
        timeout_seconds: float = 5.0,
    ) -> None:
        self._certs_dir = certs_dir
        self._client = client
        self._timeout = timeout_seconds
        self._cache: dict[str, bytes] = {}

    async def load(self, url: str) -> bytes:
        """Return the PEM at a checked SigningCertURL: cache, then pinned file, then fetch."""
        check_sns_url(url, what="SigningCertURL", pem=True)
        cached = self._cache.get(url)
        if cached is not None:
            return cached
        pem = await self._read_pinned(url)
        if pem is None:
            pem = await self._fetch(url)
        _require_certificate(pem)
        if len(self._cache) >= MAX_CACHED:
            # SNS rotates certificates rarely: dropping the oldest entry is enough.
            self._cache.pop(next(iter(self._cache)))
        self._cache[url] = pem
        return pem

    async def _read_pinned(self, url: str) -> bytes | None:
        if self._certs_dir is None:
            return None
        name = PurePosixPath(urlsplit(url).path).name
        if not _PEM_NAME.fullmatch(name):
            return None
        path = self._certs_dir / name
        if not path.is_file():
            return None
        return await asyncio.to_thread(path.read_bytes)

    async def _fetch(self, url: str) -> bytes:
        if self._client is not None:
            return await self._fetch_with(self._client, url)
        async with httpx.AsyncClient() as client:
            return await self._fetch_with(client, url)

    async def _fetch_with(self, client: httpx.AsyncClient, url: str) -> bytes:
        try:
            # No redirects: a redirect could lead off the checked SNS host.
            async with client.stream(
                "GET", url, timeout=self._timeout, follow_redirects=False
            ) as response:
                if response.status_code >= 500:
                    raise SnsCertUnavailable(f"SNS answered {response.status_code} for the cert")
                if response.status_code != 200:
                    raise SnsRejected(f"no signing certificate at the URL ({response.status_code})")
                return await _read_limited(response)
        except httpx.HTTPError as exc:
            raise SnsCertUnavailable(f"fetching the SNS cert failed: {type(exc).__name__}") from exc


async def _read_limited(response: httpx.Response) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > MAX_CERT_BYTES:
            raise SnsRejected("signing certificate is implausibly large")
        chunks.append(chunk)
    return b"".join(chunks)


def _require_certificate(pem: bytes) -> None:
    try:
        x509.load_pem_x509_certificate(pem)
    except ValueError:
        raise SnsRejected("signing certificate is not a PEM certificate") from None
