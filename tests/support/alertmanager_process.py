"""A real Prometheus Alertmanager for the end-to-end tests: started on a config, stopped after."""

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.daemon import Daemon
from tests.support.server import LOOPBACK, free_port, require_binary

_BINARY = "prometheus-alertmanager"
# Quick grouping for tests: a group's first notification after 1 s, its changes after 1 s.
FAST_ROUTE = {"group_wait": "1s", "group_interval": "1s", "repeat_interval": "1h"}
DELIVERY_TIMEOUT_S = 15.0


def poll(check: Callable[[], dict[str, Any] | None], what: str) -> dict[str, Any]:
    """Call `check` until it finds something (a delivery arrived); fail after the timeout."""
    deadline = time.monotonic() + DELIVERY_TIMEOUT_S
    while time.monotonic() < deadline:
        found = check()
        if found is not None:
            return found
        time.sleep(0.2)
    pytest.fail(f"timed out after {DELIVERY_TIMEOUT_S}s waiting for {what}")


class AlertmanagerProcess(Daemon):
    """One Alertmanager on 127.0.0.1 running `config` (its receivers point at skillpager)."""

    def __init__(self, binary: str, directory: Path, config: dict[str, Any]) -> None:
        self.directory = directory
        self.port = free_port()
        self.base_url = f"http://{LOOPBACK}:{self.port}"
        config_file = directory / "alertmanager.yml"
        config_file.write_text(json.dumps(config, indent=2))  # JSON is YAML
        storage = directory / "data"
        storage.mkdir()
        command = [
            binary,
            f"--config.file={config_file}",
            f"--storage.path={storage}",
            f"--web.listen-address={LOOPBACK}:{self.port}",
            "--cluster.listen-address=",
        ]
        super().__init__(
            command, directory / "alertmanager.log", ready_url=f"{self.base_url}/-/ready"
        )

    def post_alerts(self, alerts: list[dict[str, Any]]) -> None:
        """Push alerts through API v2, as Prometheus does."""
        response = httpx.post(f"{self.base_url}/api/v2/alerts", json=alerts, timeout=5.0)
        assert response.status_code == 200, response.text

    def alerts(self) -> list[dict[str, Any]]:
        """Alertmanager's own view of its active alerts."""
        response = httpx.get(f"{self.base_url}/api/v2/alerts", timeout=5.0)
        response.raise_for_status()
        found: list[dict[str, Any]] = response.json()
        return found


@contextmanager
def running_alertmanager(directory: Path, config: dict[str, Any]) -> Iterator[AlertmanagerProcess]:
    """A started Alertmanager on `config`, its files in `directory` (made here); stopped after."""
    directory.mkdir()
    process = AlertmanagerProcess(require_binary(_BINARY), directory, config)
    try:
        process.start()
        yield process
    finally:
        process.stop()
