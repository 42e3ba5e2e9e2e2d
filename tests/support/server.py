"""The real service as a subprocess on a free loopback port, for end-to-end tests.

`ServerProcess` owns one `skillpager serve` process on a SQLite file of its own (or on a given
database URL, e.g. a PostgreSQL database shared by several replicas): it migrates the database,
starts the server, waits for `/readyz`, and can SIGKILL and restart it on the same database (and
port). The process log goes to a file in its directory; start failures quote its tail.
Always stop it in a finalizer: `with ServerProcess(tmp_path) as server: ...` does that.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx

from tests.support.requirements import unavailable

REPO_ROOT = Path(__file__).resolve().parents[2]
# A frozen copy of the shipped routing_rules/: tests that need its exact people and systems use
# it, so a team lead's edit to the shipped example breaks no test.
EXAMPLE_RULES = REPO_ROOT / "tests" / "fixtures" / "rules_example"
LOOPBACK = "127.0.0.1"
WEBHOOK_TOKEN = "e2e-webhook-token"
_LOG_TAIL_BYTES = 4000


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


class ServerStartFailed(RuntimeError):
    """The service exited or did not become ready in time; the message ends with its log."""


class ServerProcess:
    """One `skillpager serve` subprocess on `directory/skillpager.db`, bound to 127.0.0.1.

    `database_url` replaces the SQLite file (the database is still migrated before the first
    start; migrating a database already at head changes nothing). `env` adds or overrides
    SKILLPAGER_* settings; `update_env` changes them for the next start.
    """

    def __init__(
        self,
        directory: Path,
        *,
        webhook_token: str = WEBHOOK_TOKEN,
        env: dict[str, str] | None = None,
        port: int | None = None,
        database_url: str | None = None,
    ) -> None:
        self.directory = directory
        self.database_path = directory / "skillpager.db"
        self._database_url = database_url
        self.log_path = directory / "server.log"
        self.webhook_token = webhook_token
        self.port = port or free_port()
        self._extra_env = dict(env or {})
        self._process: subprocess.Popen[bytes] | None = None
        self._migrated = False

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:<port>`."""
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def database_url(self) -> str:
        """The database URL the server uses (its own SQLite file unless one was given)."""
        return self._database_url or f"sqlite+aiosqlite:///{self.database_path}"

    @property
    def pid(self) -> int:
        """The running server's process id."""
        if self._process is None:
            raise RuntimeError("the server is not running")
        return self._process.pid

    def webhook_headers(self) -> dict[str, str]:
        """Headers that authenticate a webhook post."""
        return {"Authorization": f"Bearer {self.webhook_token}"}

    def start(self, *, timeout_s: float = 20.0) -> None:
        """Start the server and return once `/readyz` answers 200."""
        if self._process is not None and self._process.poll() is None:
            raise RuntimeError("the server is already running")
        if not self._migrated:
            # The real CLI, in its own process: works from inside a running event loop too.
            self._cli("migrate")
            self._migrated = True
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "app.cli", "serve", "--host", LOOPBACK],
                cwd=REPO_ROOT,
                env=self._env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self._wait_ready(timeout_s)

    def update_env(self, values: dict[str, str | None]) -> None:
        """Set (or, with None, remove) extra environment variables for the next start."""
        for name, value in values.items():
            if value is None:
                self._extra_env.pop(name, None)
            else:
                self._extra_env[name] = value

    def wait_exit(self, *, timeout_s: float = 20.0) -> int:
        """Wait for the server to exit by itself (a crash test) and return its exit code."""
        if self._process is None:
            raise RuntimeError("the server is not running")
        try:
            code = self._process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"server still running after {timeout_s}s:\n{self.log_tail()}"
            ) from None
        self._process = None
        return code

    def kill(self) -> None:
        """SIGKILL the server (no shutdown, no flush) and reap it."""
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGKILL)
        self._process.wait(timeout=10)
        self._process = None

    def stop(self, *, grace_s: float = 5.0) -> bool:
        """SIGTERM the server, SIGKILL it if it has not exited within `grace_s`.

        Returns whether it shut down by itself.
        """
        if self._process is None:
            return True
        graceful = True
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                graceful = False
        self.kill()
        return graceful

    def restart(self, *, hard: bool = True, timeout_s: float = 20.0) -> None:
        """Kill (SIGKILL when `hard`, else SIGTERM) and start again on the same file and port."""
        if hard:
            self.kill()
        else:
            self.stop()
        self.start(timeout_s=timeout_s)

    def create_token(self, *, engineer: str = "anna") -> str:
        """A new engineer token, made by the real CLI on the server's database."""
        return self._cli("token", "create", "--engineer", engineer).strip().splitlines()[-1]

    def environment(self) -> dict[str, str]:
        """The environment the server runs with (for running another CLI command on it)."""
        return self._env()

    def log_tail(self) -> str:
        """The last few kilobytes of the server's log."""
        if not self.log_path.exists():
            return ""
        data = self.log_path.read_bytes()[-_LOG_TAIL_BYTES:]
        return data.decode("utf-8", errors="replace")

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _env(self) -> dict[str, str]:
        # Inherited SKILLPAGER_* settings (a developer's shell) must not leak into the server.
        env = {k: v for k, v in os.environ.items() if not k.startswith("SKILLPAGER_")}
        env.update(
            {
                "SKILLPAGER_DATABASE_URL": self.database_url,
                "SKILLPAGER_WEBHOOK_TOKEN": self.webhook_token,
                "SKILLPAGER_PORT": str(self.port),
                "SKILLPAGER_PUBLIC_URL": self.base_url,
                "SKILLPAGER_RULES_DIR": str(EXAMPLE_RULES),
                "SKILLPAGER_LOG_FORMAT": "text",
            }
        )
        env.update(self._extra_env)
        return env

    def _cli(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "app.cli", *args],
            cwd=REPO_ROOT,
            env=self._env(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"skillpager {' '.join(args)} failed:\n{done.stderr[-3000:]}")
        return done.stdout

    def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        with httpx.Client(base_url=self.base_url, timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self._process is None or self._process.poll() is not None:
                    code = None if self._process is None else self._process.returncode
                    self._process = None
                    raise ServerStartFailed(f"server exited with {code}:\n{self.log_tail()}")
                try:
                    if client.get("/readyz").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.05)
        self.kill()
        raise ServerStartFailed(f"server not ready within {timeout_s}s:\n{self.log_tail()}")


# The `make_server` fixture (tests/e2e/conftest.py): a server on these rules with this env.
MakeServer = Callable[[Path, dict[str, str]], ServerProcess]


def require_binary(name: str) -> str:
    """The path of an external program; skip the test without it (fail under CI)."""
    found = shutil.which(name)
    if found is None:
        unavailable(f"{name} is not installed (apt-get install {name})")
    return found
