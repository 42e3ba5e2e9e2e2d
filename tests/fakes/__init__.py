"""Fake provider servers: real HTTP on 127.0.0.1, recording requests and injecting faults.

`FakeServer` runs a stdlib ThreadingHTTPServer in a daemon thread (starts in milliseconds, no
event loop of its own). Subclasses implement `route(request)`; faults queued with `inject`
answer instead of the route while they last. Use as a context manager or start()/stop().
"""

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake received it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    @property
    def form(self) -> dict[str, str]:
        """The body decoded as a form (last value wins for repeated keys)."""
        return dict(parse_qsl(self.body.decode(), keep_blank_values=True))

    @property
    def json(self) -> dict[str, Any]:
        """The body decoded as a JSON object (its values are what the tests assert on)."""
        decoded = json.loads(self.body)
        assert isinstance(decoded, dict)
        return decoded

    @property
    def params(self) -> dict[str, str]:
        """JSON body, form body or query, whichever the client used (Slack accepts all)."""
        content_type = self.headers.get("content-type", "")
        if content_type.startswith("application/json"):
            return {key: str(value) for key, value in self.json.items()}
        if self.body:
            return self.form
        return self.query


@dataclass
class FakeResponse:
    """What a fake answers."""

    status: int
    body: object = None  # JSON-encoded unless bytes
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> bytes:
        """The body as bytes."""
        if isinstance(self.body, bytes):
            return self.body
        return b"" if self.body is None else json.dumps(self.body).encode()


@dataclass
class Fault:
    """An injected answer: used for the next `times` matching requests (None = forever)."""

    response: FakeResponse | None
    times: int | None = 1
    delay: float = 0.0
    when: Callable[[RecordedRequest], bool] | None = None
    # Act on the request first (the provider stores the message), then sleep `delay` (None:
    # until the fake stops) before answering: a slow provider whose client gives up.
    late: bool = False


class FakeServer:
    """Base of the fake providers: HTTP plumbing, request log, fault queue."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL, e.g. `http://127.0.0.1:54321`."""
        assert self._server is not None, "server not started"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        """Bind a free port on 127.0.0.1 and serve in a background thread."""
        self._server = _Server(("127.0.0.1", 0), _handler_for(self))
        # A short poll interval keeps stop() (which waits for one poll) fast in teardown.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; requests still sleeping in a delay are released at once."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def inject(self, fault: Fault) -> None:
        """Queue a fault; faults are tried in the order they were injected."""
        with self._lock:
            self._faults.append(fault)

    def delay(self, seconds: float, *, times: int | None = 1) -> None:
        """Sleep `seconds` before answering the next `times` requests normally (a timeout)."""
        self.inject(Fault(response=None, times=times, delay=seconds))

    def answer_late(
        self,
        seconds: float | None,
        *,
        times: int | None = None,
        when: Callable[[RecordedRequest], bool] | None = None,
    ) -> None:
        """Handle the next `times` matching requests at once but answer them only after
        `seconds` (None: never, until the fake stops)."""
        delay = float("inf") if seconds is None else seconds
        self.inject(Fault(response=None, times=times, delay=delay, when=when, late=True))

    def clear_faults(self) -> None:
        """Drop every queued fault."""
        with self._lock:
            self._faults.clear()

    def route(self, request: RecordedRequest) -> FakeResponse:
        """Answer a request like the real API; subclasses implement it."""
        raise NotImplementedError

    def handle(self, request: RecordedRequest) -> FakeResponse:
        """Record, apply a pending fault if one matches, else route."""
        with self._lock:
            self.requests.append(request)
            fault = self._take_fault(request)
        if fault is not None and fault.late:
            with self._lock:
                response = self.route(request)
            self._stopping.wait(None if fault.delay == float("inf") else fault.delay)
            return response
        if fault is not None and fault.delay:
            self._stopping.wait(fault.delay)
        if fault is not None and fault.response is not None:
            return fault.response
        with self._lock:
            return self.route(request)

    def _take_fault(self, request: RecordedRequest) -> Fault | None:
        for fault in self._faults:
            if fault.when is None or fault.when(request):
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                return fault
        return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request: object, client_address: object) -> None:
        # A client that gave up (timeout test) leaves a broken pipe; that is expected here.
        pass


def _handler_for(fake: FakeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes; without this, Nagle + delayed ACK add 40 ms.
        disable_nagle_algorithm = True

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            split = urlsplit(self.path)
            request = RecordedRequest(
                method=self.command,
                path=split.path,
                query=dict(parse_qsl(split.query, keep_blank_values=True)),
                headers={key.lower(): value for key, value in self.headers.items()},
                body=self.rfile.read(length) if length else b"",
            )
            response = fake.handle(request)
            payload = response.encoded()
            self.send_response(response.status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = _serve

        def log_message(self, format: str, *args: object) -> None:
            pass  # keep test output clean

    return Handler
