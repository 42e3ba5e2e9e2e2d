"""A start that fails pages nobody (issue 12.8).

`skillpager serve`, the real console script, on a database holding a due escalation and with
Twilio pointed at a fake: with its port taken it must exit 1 with one clear line on stderr and
without a single request to Twilio. Freed, the same start sends the due page (so the test's
database really had one to send).
"""

import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.fakes.twilio_server import TwilioFake
from tests.support import ladder
from tests.support.providers import twilio_env
from tests.support.server import LOOPBACK, REPO_ROOT, ServerProcess

pytestmark = pytest.mark.slow

CONSOLE_SCRIPT = Path(sys.executable).with_name("skillpager")


@pytest.fixture
def taken_port() -> Iterator[socket.socket]:
    """A port on 127.0.0.1 another program listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        sock.listen()
        yield sock


def _serve(server: ServerProcess, port: int) -> subprocess.CompletedProcess[str]:
    env = server.environment() | {"SKILLPAGER_PORT": str(port)}
    return subprocess.run(
        [str(CONSOLE_SCRIPT), "serve", "--host", LOOPBACK],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _due_escalation(server: ServerProcess) -> None:
    """Fire an alert, stop the server, and wait until its ladder's next step is due."""
    server.start()
    ladder.fire(server, name="DbDown")
    assert server.stop(), server.log_tail()
    time.sleep(ladder.FAST_ACK_TIMEOUT_S + 1)


def test_a_taken_port_exits_1_with_one_line_and_sends_nothing(
    tmp_path: Path, twilio_fake: TwilioFake, taken_port: socket.socket
) -> None:
    rules = ladder.fast_ladder(tmp_path)
    server = ServerProcess(
        tmp_path / "db",
        env={"SKILLPAGER_RULES_DIR": str(rules), **twilio_env(twilio_fake)},
    )
    (tmp_path / "db").mkdir()
    try:
        _due_escalation(server)
        sent_before = len(twilio_fake.messages)
        twilio_fake.requests.clear()
        port = taken_port.getsockname()[1]

        done = _serve(server, port)

        assert done.returncode == 1, done.stderr
        assert done.stderr.strip().splitlines() == [
            f"port {port} is in use; set SKILLPAGER_PORT or --port"
        ]
        assert twilio_fake.requests == []
        assert len(twilio_fake.messages) == sent_before
        # The control: on a free port the same database pages the due step at once.
        server.start()
        _wait(lambda: len(twilio_fake.messages) > sent_before, server)
    finally:
        server.stop()


def test_an_unreachable_database_exits_1_with_one_line(tmp_path: Path) -> None:
    server = ServerProcess(
        tmp_path, database_url="postgresql+asyncpg://nobody:secret@127.0.0.1:1/none"
    )
    done = _serve(server, server.port)
    assert done.returncode == 1
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("cannot use the database (postgresql+asyncpg://nobody:***@")
    assert "secret" not in line


def _wait(check: Callable[[], bool], server: ServerProcess) -> None:
    deadline = time.monotonic() + 20.0
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"the due page was not sent:\n{server.log_tail()}")
