"""Who is calling: tokens from `Authorization: Bearer`, Basic auth's password, or `?token=`."""

import asyncio
import base64
import binascii
import hmac
import logging
import time
from collections.abc import Callable, Container

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import HTTPConnection

from app.errors import Forbidden, Unauthorized
from app.store.tokens import (
    ALL_SOURCES,
    Principal,
    TokenKind,
    active_tokens,
    find_token,
    hash_token,
)

log = logging.getLogger(__name__)

# Tokens are created and revoked by the CLI in another process; re-read them this often.
_REFRESH_S = 5.0
# A miss is looked up at once (a token just created); misses are remembered this long so a
# flood of bad tokens cannot become a flood of queries.
_MISS_TTL_S = 2.0
_MAX_MISSES = 4096


def credential_of(request: HTTPConnection) -> str | None:
    """The token a request presents, from the header, Basic password or query."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if scheme.lower() == "basic" and value.strip():
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[2] or None
    return request.query_params.get("token") or None


class TokenCache:
    """Resolves presented tokens to principals, from a periodically refreshed hash table."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        webhook_token: str | None,
        engineers: Callable[[], Container[str]] | None = None,
    ) -> None:
        self._engine = engine
        self._webhook_token = webhook_token
        # The engineer ids of the skills map in force: a token of someone removed is refused.
        self._engineers = engineers
        self._table: dict[str, Principal] = {}
        self._loaded_at = float("-inf")
        self._misses: dict[str, float] = {}
        self._lock = asyncio.Lock()

    async def principal(self, token: str) -> Principal | None:
        """The principal for `token`, or None when it is unknown or revoked."""
        if self._webhook_token and hmac.compare_digest(token, self._webhook_token):
            return Principal(TokenKind.WEBHOOK, ALL_SOURCES)
        digest = hash_token(token)
        if time.monotonic() - self._loaded_at > _REFRESH_S:
            await self._refresh()
        found = self._table.get(digest)
        if found is None:
            found = await self._lookup_miss(digest)
        return found

    async def _lookup_miss(self, digest: str) -> Principal | None:
        now = time.monotonic()
        if now - self._misses.get(digest, float("-inf")) < _MISS_TTL_S:
            return None
        async with self._engine.connect() as conn:
            found = await find_token(conn, digest)
        if found is not None:
            self._table[digest] = found
            return found
        if len(self._misses) >= _MAX_MISSES:
            self._misses.clear()
        self._misses[digest] = now
        return None

    async def _refresh(self) -> None:
        async with self._lock:
            async with self._engine.connect() as conn:
                self._table = await active_tokens(conn)
            self._loaded_at = time.monotonic()

    async def require(self, request: HTTPConnection) -> Principal:
        """The caller's principal; Unauthorized when none or unknown."""
        token = credential_of(request)
        if token is None:
            raise Unauthorized("a token is required (Bearer, Basic password or ?token=)")
        principal = await self.principal(token)
        if principal is None:
            raise Unauthorized("unknown or revoked token")
        if self._removed(principal):
            log.warning(
                "refused a token of engineer %s: no longer in the skills map",
                principal.subject,
                extra={"engineer": principal.subject},
            )
            raise Unauthorized(
                f"this token belongs to engineer {principal.subject!r}, who is no longer in "
                "the skills map (team.yaml)"
            )
        return principal

    def _removed(self, principal: Principal) -> bool:
        """True for an engineer token whose engineer the skills map no longer has."""
        if principal.kind != TokenKind.ENGINEER or self._engineers is None:
            return False
        return principal.subject not in self._engineers()

    async def require_webhook(self, request: HTTPConnection, source: str) -> Principal:
        """A principal allowed to post alerts for `source`."""
        principal = await self.require(request)
        if not principal.may_post(source):
            raise Forbidden(f"this token may not post {source} webhooks")
        return principal

    async def require_reader(self, request: HTTPConnection) -> Principal:
        """An engineer or customer token (webhook tokens only open webhooks)."""
        principal = await self.require(request)
        if principal.kind == TokenKind.WEBHOOK:
            raise Forbidden("webhook tokens cannot read the API")
        return principal
