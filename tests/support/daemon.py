"""An external program run for a test (Prometheus): started with its log in a temp folder,
ready once an HTTP address answers 200, always stopped."""

import subprocess
import time
from pathlib import Path

import httpx
import pytest


class Daemon:
    """One long-running program of `command`, its output in `log_path`."""

    def __init__(self, command: list[str], log_path: Path, *, ready_url: str) -> None:
        self.command = command
        self.log_path = log_path
        self.ready_url = ready_url
        self._process: subprocess.Popen[bytes] | None = None

    def log_tail(self) -> str:
        """The last lines of its output."""
        return self.log_path.read_text(errors="replace")[-3000:] if self.log_path.exists() else ""

    def start(self, *, timeout_s: float = 20.0) -> None:
        """Start it and wait until `ready_url` answers 200 (the test fails if it never does)."""
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                self.command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                pytest.fail(f"{self.command[0]} exited:\n{self.log_tail()}")
            try:
                if httpx.get(self.ready_url, timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        pytest.fail(f"{self.command[0]} not ready:\n{self.log_tail()}")

    def stop(self) -> None:
        """Terminate it (kill after 5 s)."""
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=5)
        self._process = None
