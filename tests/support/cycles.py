"""Wait for a running server's escalation engine to complete more cycles.

A "nothing else happened" check (no second SMS after a crash, no double send between replicas)
waits for the engine's own cycle counter, `skillpager_engine_cycles_total` on `/metrics`,
instead of sleeping: a cycle that began after the check has seen everything due by then, and of
two more completed cycles at least one began after it.
"""

import time

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.support.server import ServerProcess

_COUNTER = "skillpager_engine_cycles"


def engine_cycles(server: ServerProcess) -> int:
    """How many cycles the server's engine has completed, from its `/metrics`."""
    response = httpx.get(f"{server.base_url}/metrics", timeout=10.0)
    response.raise_for_status()
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == f"{_COUNTER}_total":
                return int(sample.value)
    raise AssertionError(f"{server.base_url}/metrics has no {_COUNTER}_total")


def wait_for_engine_cycles(*servers: ServerProcess, more: int = 2, timeout_s: float = 30.0) -> None:
    """Return once every server's engine has completed `more` cycles since the call."""
    targets = [(server, engine_cycles(server) + more) for server in servers]
    deadline = time.monotonic() + timeout_s
    while pending := [server for server, target in targets if engine_cycles(server) < target]:
        if time.monotonic() > deadline:
            logs = "\n".join(server.log_tail() for server in pending)
            raise AssertionError(f"no {more} more engine cycles within {timeout_s}s:\n{logs}")
        time.sleep(0.1)
