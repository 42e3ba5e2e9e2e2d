"""A fake Slack Web API: chat.postMessage, chat.update, conversations.open/history, auth.test."""

from dataclasses import dataclass, field
from typing import Any

from app.clock import Clock, SystemClock
from tests.fakes import FakeResponse, FakeServer, Fault, RecordedRequest

BOT_TOKEN = "xoxb-fake-0000-token"


@dataclass
class PostedMessage:
    """A message the fake holds in a conversation."""

    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)  # Block Kit JSON objects


class SlackFake(FakeServer):
    """Answers like `https://slack.com/api/<method>`: HTTP 200 with `ok` true or false."""

    def __init__(self, *, bot_token: str = BOT_TOKEN, clock: Clock | None = None) -> None:
        super().__init__()
        self.bot_token = bot_token
        self.clock: Clock = clock or SystemClock()
        self.messages: list[PostedMessage] = []
        self.unknown_users: set[str] = set()
        self._last_micros = 0

    @staticmethod
    def dm_channel(user: str) -> str:
        """The DM conversation id the fake gives member `user` (`U01ANNA` → `DU01ANNA`)."""
        return f"D{user}"

    def fail_with_error(
        self, error: str, *, times: int | None = 1, retry_after: str | None = None
    ) -> None:
        """Answer the next `times` calls with HTTP 200 `{"ok": false, "error": error}`."""
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        response = FakeResponse(200, {"ok": False, "error": error}, headers)
        self.inject(Fault(response, times=times))

    def fail_with_status(
        self, status: int, *, times: int | None = 1, retry_after: str | None = None
    ) -> None:
        """Answer with an HTTP status; 429 carries `ratelimited` and Retry-After like Slack."""
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        body: object = {"ok": False, "error": "ratelimited"} if status == 429 else b"oops"
        self.inject(Fault(FakeResponse(status, body, headers), times=times))

    def post_slowly(self, seconds: float | None, *, times: int | None = None) -> None:
        """Post each chat.postMessage at once but answer it after `seconds` (None: never):
        our client times out, yet `conversations.history` shows the message."""
        self.answer_late(seconds, times=times, when=_is_post)

    def route(self, request: RecordedRequest) -> FakeResponse:
        """Check the bearer token, then dispatch on the method name in the path."""
        if request.headers.get("authorization") != f"Bearer {self.bot_token}":
            return _fail("invalid_auth" if "authorization" in request.headers else "not_authed")
        handlers = {
            "/chat.postMessage": self._post,
            "/chat.update": self._update,
            "/conversations.open": self._open,
            "/conversations.history": self._history,
            "/auth.test": self._auth_test,
        }
        handler = handlers.get(request.path)
        if handler is None:
            return FakeResponse(404, {"ok": False, "error": "unknown_method"})
        return handler(request)

    def _auth_test(self, _request: RecordedRequest) -> FakeResponse:
        body = {"ok": True, "team": "Fake Team", "user": "skillpager", "bot_id": "B0FAKE"}
        return FakeResponse(200, body)

    def _resolve(self, channel: str) -> str | None:
        if channel in self.unknown_users:
            return None
        return self.dm_channel(channel) if channel[:1] in ("U", "W") else channel

    def _post(self, request: RecordedRequest) -> FakeResponse:
        payload = request.json
        channel = self._resolve(str(payload.get("channel", "")))
        if channel is None:
            return _fail("channel_not_found")
        if not payload.get("text") and not payload.get("blocks"):
            return _fail("no_text")
        blocks = payload.get("blocks")
        message = PostedMessage(
            channel=channel,
            ts=self._next_ts(),
            text=str(payload.get("text", "")),
            blocks=_objects(blocks),
        )
        self.messages.append(message)
        return FakeResponse(
            200,
            {"ok": True, "channel": channel, "ts": message.ts, "message": _wire(message)},
        )

    def _update(self, request: RecordedRequest) -> FakeResponse:
        payload = request.json
        for message in self.messages:
            if message.channel == payload.get("channel") and message.ts == payload.get("ts"):
                message.text = str(payload.get("text", message.text))
                if "blocks" in payload:
                    message.blocks = _objects(payload["blocks"])
                body = {"ok": True, "channel": message.channel, "ts": message.ts}
                return FakeResponse(200, {**body, "text": message.text})
        return _fail("message_not_found")

    def _open(self, request: RecordedRequest) -> FakeResponse:
        channel = self._resolve(request.params.get("users", ""))
        if channel is None:
            return _fail("user_not_found")
        return FakeResponse(200, {"ok": True, "channel": {"id": channel}})

    def _history(self, request: RecordedRequest) -> FakeResponse:
        params = request.params
        oldest = float(params.get("oldest", "0"))
        found = [
            _wire(message)
            for message in reversed(self.messages)  # newest first, like Slack
            if message.channel == params.get("channel") and float(message.ts) >= oldest
        ]
        body = {"ok": True, "messages": found, "has_more": False}
        return FakeResponse(200, {**body, "response_metadata": {"next_cursor": ""}})

    def _next_ts(self) -> str:
        # Microseconds of the clock, bumped so two messages never share a ts (as in Slack).
        micros = max(int(self.clock.now().timestamp() * 1_000_000), self._last_micros + 1)
        self._last_micros = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"


def _is_post(request: RecordedRequest) -> bool:
    return request.path == "/chat.postMessage"


def _objects(blocks: object) -> list[dict[str, Any]]:
    """The JSON objects of a `blocks` value (Slack ignores anything else)."""
    return (
        [block for block in blocks if isinstance(block, dict)] if isinstance(blocks, list) else []
    )


def _fail(error: str) -> FakeResponse:
    return FakeResponse(200, {"ok": False, "error": error})


def _wire(message: PostedMessage) -> dict[str, object]:
    return {
        "type": "message",
        "bot_id": "B0FAKE",
        "text": message.text,
        "ts": message.ts,
        "blocks": message.blocks,
    }
