"""A fake Twilio REST API: Messages (create, list, fetch), Calls (create, list, fetch), the
Account (fetch), Basic auth, faults."""

import base64
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime

from app.clock import Clock, SystemClock
from tests.fakes import FakeResponse, FakeServer, Fault, RecordedRequest

ACCOUNT_SID = "AC" + "0" * 31 + "1"
AUTH_TOKEN = "fake-auth-token-0123456789abcdef"

_MESSAGES = re.compile(r"^/2010-04-01/Accounts/(?P<sid>AC\w+)/Messages\.json$")
_CALLS = re.compile(r"^/2010-04-01/Accounts/(?P<sid>AC\w+)/Calls\.json$")
_ACCOUNT = re.compile(r"^/2010-04-01/Accounts/(?P<sid>AC\w+)\.json$")
_ONE = re.compile(
    r"^/2010-04-01/Accounts/(?P<sid>AC\w+)/(?P<kind>Messages|Calls)/(?P<id>\w+)\.json$"
)
_ERROR_STATUS = {20003: 401, 20404: 404, 20429: 429}
_ERROR_TEXT = {
    20003: "Authenticate",
    20429: "Too Many Requests",
    21211: "The 'To' number {to} is not a valid phone number.",
    21408: "Permission to send an SMS has not been enabled for the region indicated by the 'To'",
    21610: "Attempt to send to unsubscribed recipient",
    21614: "'To' number is not a valid mobile number",
}


@dataclass
class SentMessage:
    """A message the fake accepted."""

    sid: str
    to: str
    from_: str | None
    messaging_service_sid: str | None
    body: str
    status_callback: str | None
    date_created: datetime


@dataclass
class PlacedCall:
    """A call the fake accepted (nothing is dialled; the TwiML is only recorded)."""

    sid: str
    to: str
    from_: str
    twiml: str | None
    url: str | None
    status_callback: str | None
    timeout: str | None
    date_created: datetime


class TwilioFake(FakeServer):
    """Answers like Twilio: `…/Messages.json` (POST create, GET list), `…/Calls.json` (POST).

    Faults injected with `fail_with_code` / `fail_with_status` apply to both resources.
    """

    def __init__(
        self,
        *,
        account_sid: str = ACCOUNT_SID,
        auth_token: str = AUTH_TOKEN,
        clock: Clock | None = None,
    ) -> None:
        super().__init__()
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.clock: Clock = clock or SystemClock()
        self.messages: list[SentMessage] = []
        self.calls: list[PlacedCall] = []
        # What fetching one message or call answers, in turn: the last state then stays.
        self.fetch_states: dict[str, list[str]] = {
            "Messages": ["sent", "delivered"],
            "Calls": ["ringing", "completed"],
        }
        self._fetches: dict[str, int] = {}

    def messages_to(self, number: str) -> list[SentMessage]:
        """The SMS accepted for `number`, in the order they came."""
        return [message for message in self.messages if message.to == number]

    def fail_with_code(self, code: int, *, times: int | None = 1, to: str | None = None) -> None:
        """Answer the next `times` creates (only those to `to`, if given) with a Twilio error."""
        status = _ERROR_STATUS.get(code, 400)
        body = {
            "code": code,
            "message": _ERROR_TEXT.get(code, "Error").format(to=to or "+15005550001"),
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        }
        headers = {"Retry-After": "1"} if status == 429 else {}
        self.inject(Fault(FakeResponse(status, body, headers), times=times, when=_to_is(to)))

    def fail_with_status(
        self, status: int, *, times: int | None = 1, retry_after: str | None = None
    ) -> None:
        """Answer the next `times` requests with a bare HTTP status (500, 503, 429 …)."""
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        body = {"code": status, "message": "fake failure", "status": status}
        self.inject(Fault(FakeResponse(status, body, headers), times=times))

    def accept_slowly(self, seconds: float | None, *, times: int | None = None) -> None:
        """Store each created message at once but answer its POST after `seconds` (None:
        never): our client times out, yet `messages.list` shows the message."""
        self.answer_late(seconds, times=times, when=_is_create)

    def route(self, request: RecordedRequest) -> FakeResponse:
        """Dispatch to create, list or fetch after checking the path and Basic auth."""
        single = _ACCOUNT.match(request.path) or _ONE.match(request.path)
        if single is not None and request.method == "GET":
            if single["sid"] != self.account_sid:
                return _error(20404, "The requested resource was not found", 404)
            if not self._authorised(request):
                return _error(20003, "Authenticate", 401)
            return self._fetch(single.groupdict())
        calls = _CALLS.match(request.path)
        match = _MESSAGES.match(request.path) or calls
        if match is None or match["sid"] != self.account_sid:
            return _error(20404, "The requested resource was not found", 404)
        if not self._authorised(request):
            return _error(20003, "Authenticate", 401)
        if calls is not None:
            if request.method != "POST":
                return self._list_calls(request.query)
            return self._create_call(request.form)
        if request.method == "POST":
            return self._create(request.form)
        return self._list(request.query)

    def _fetch(self, parts: dict[str, str | None]) -> FakeResponse:
        kind, sid = parts.get("kind"), parts.get("id")
        if kind is None:
            body = {"sid": self.account_sid, "friendly_name": "Fake account", "status": "active"}
            return FakeResponse(200, body)
        if kind == "Messages":
            found: dict[str, object] | None = next(
                (self._resource(m) for m in self.messages if m.sid == sid), None
            )
        else:
            found = next((self._call_resource(c) for c in self.calls if c.sid == sid), None)
        if found is None or sid is None:
            return _error(20404, "The requested resource was not found", 404)
        states = self.fetch_states[kind]
        turn = self._fetches[sid] = self._fetches.get(sid, -1) + 1
        return FakeResponse(200, found | {"status": states[min(turn, len(states) - 1)]})

    def _authorised(self, request: RecordedRequest) -> bool:
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return secrets.compare_digest(request.headers.get("authorization", ""), f"Basic {expected}")

    def _create(self, form: dict[str, str]) -> FakeResponse:
        if not form.get("To"):
            return _error(21604, "A 'To' phone number is required.", 400)
        if not form.get("From") and not form.get("MessagingServiceSid"):
            return _error(21603, "A 'From' phone number is required.", 400)
        message = SentMessage(
            sid="SM" + secrets.token_hex(16),
            to=form["To"],
            from_=form.get("From"),
            messaging_service_sid=form.get("MessagingServiceSid"),
            body=form.get("Body", ""),
            status_callback=form.get("StatusCallback"),
            date_created=self.clock.now(),
        )
        self.messages.append(message)
        return FakeResponse(201, self._resource(message))

    def _create_call(self, form: dict[str, str]) -> FakeResponse:
        if not form.get("To"):
            return _error(21201, "No 'To' number is specified", 400)
        if not form.get("From"):
            return _error(21213, "No 'From' number is specified", 400)
        if not form.get("Url") and not form.get("Twiml") and not form.get("ApplicationSid"):
            return _error(21205, "Url parameter is required.", 400)
        call = PlacedCall(
            sid="CA" + secrets.token_hex(16),
            to=form["To"],
            from_=form["From"],
            twiml=form.get("Twiml"),
            url=form.get("Url"),
            status_callback=form.get("StatusCallback"),
            timeout=form.get("Timeout"),
            date_created=self.clock.now(),
        )
        self.calls.append(call)
        return FakeResponse(201, self._call_resource(call))

    def _call_resource(self, call: PlacedCall) -> dict[str, object]:
        stamp = format_datetime(call.date_created.astimezone(UTC), usegmt=True)
        base = f"/2010-04-01/Accounts/{self.account_sid}/Calls/{call.sid}"
        return {
            "sid": call.sid,
            "account_sid": self.account_sid,
            "to": call.to,
            "to_formatted": call.to,
            "from": call.from_,
            "from_formatted": call.from_,
            "status": "queued",
            "direction": "outbound-api",
            "answered_by": None,
            "duration": None,
            "price": None,
            "price_unit": "USD",
            "start_time": None,
            "end_time": None,
            "parent_call_sid": None,
            "phone_number_sid": None,
            "date_created": stamp,
            "date_updated": stamp,
            "api_version": "2010-04-01",
            "uri": f"{base}.json",
            "subresource_uris": {"recordings": f"{base}/Recordings.json"},
        }

    def _list_calls(self, query: dict[str, str]) -> FakeResponse:
        found = [
            self._call_resource(call)
            for call in reversed(self.calls)  # newest first, like Twilio
            if query.get("To") in (None, call.to)
        ]
        base = f"/2010-04-01/Accounts/{self.account_sid}/Calls.json"
        page = {"first_page_uri": base, "next_page_uri": None, "previous_page_uri": None}
        return FakeResponse(200, {"calls": found, "page": 0, "start": 0, "uri": base, **page})

    def _list(self, query: dict[str, str]) -> FakeResponse:
        after = _parse_date(query.get("DateSent>"))
        found = [
            self._resource(message)
            for message in reversed(self.messages)  # newest first, like Twilio
            if query.get("To") in (None, message.to)
            and query.get("From") in (None, message.from_)
            and (after is None or message.date_created >= after)
        ]
        base = f"/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        return FakeResponse(
            200,
            {
                "messages": found,
                "end": max(len(found) - 1, 0),
                "first_page_uri": base,
                "next_page_uri": None,
                "previous_page_uri": None,
                "page": 0,
                "page_size": int(query.get("PageSize", "50")),
                "start": 0,
                "uri": base,
            },
        )

    def _resource(self, message: SentMessage) -> dict[str, object]:
        stamp = format_datetime(message.date_created.astimezone(UTC), usegmt=True)
        return {
            "sid": message.sid,
            "account_sid": self.account_sid,
            "messaging_service_sid": message.messaging_service_sid,
            "from": message.from_,
            "to": message.to,
            "body": message.body,
            # A messaging service answers `accepted` until it picks a sender.
            "status": "accepted" if message.messaging_service_sid else "queued",
            "direction": "outbound-api",
            "num_segments": "0" if message.messaging_service_sid else "1",
            "num_media": "0",
            "price": None,
            "price_unit": "USD",
            "error_code": None,
            "error_message": None,
            "date_created": stamp,
            "date_updated": stamp,
            "date_sent": stamp,
            "api_version": "2010-04-01",
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{message.sid}.json",
            "subresource_uris": {
                "media": f"/2010-04-01/Accounts/{self.account_sid}/Messages/"
                f"{message.sid}/Media.json"
            },
        }


def _error(code: int, message: str, status: int) -> FakeResponse:
    body = {"code": code, "message": message, "more_info": "", "status": status}
    return FakeResponse(status, body)


def _is_create(request: RecordedRequest) -> bool:
    return request.method == "POST"


def _to_is(to: str | None) -> Callable[[RecordedRequest], bool] | None:
    if to is None:
        return None
    return lambda request: request.method == "POST" and request.form.get("To") == to


def _parse_date(value: str | None) -> datetime | None:
    if not value:
        return None
    fmt = "%Y-%m-%dT%H:%M:%SZ" if "T" in value else "%Y-%m-%d"
    return datetime.strptime(value, fmt).replace(tzinfo=UTC)
