"""Real Prometheus and amtool speak Alertmanager's API v2 to skillpager directly.

Prometheus (`alerting.alertmanagers` pointing at skillpager) evaluates two rules every second:
one stops firing (Prometheus sends it resolved), the other is still firing when Prometheus stops
(nobody sends it again: skillpager resolves it at its `endsAt`, as Alertmanager's resolve timeout
does). amtool adds,
queries and expires a silence that holds a page, and queries the alerts.
"""

import json
import re
import subprocess
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.ingest.postable import fingerprint
from tests.support.daemon import Daemon
from tests.support.ladder import wait_for
from tests.support.readme import snippet, yaml_snippet
from tests.support.server import LOOPBACK, ServerProcess, free_port, require_binary

pytestmark = pytest.mark.slow

_SENDS_RESOLVED = {"alertname": "E2EStopsFiring", "service": "payments-db", "severity": "critical"}
_ORPHANED = {"alertname": "E2EPrometheusGone", "service": "checkout", "severity": "critical"}


def _rule(labels: dict[str, str], expr: str) -> dict[str, Any]:
    extra = {name: value for name, value in labels.items() if name != "alertname"}
    summary = f"{labels['alertname']} fired"
    return {
        "alert": labels["alertname"],
        "expr": expr,
        "labels": extra,
        "annotations": {"summary": summary},
    }


def _rules(*rules: dict[str, Any]) -> str:
    return json.dumps({"groups": [{"name": "e2e", "interval": "1s", "rules": list(rules)}]})


_README_PROMETHEUS = yaml_snippet("Prometheus and Grafana without an Alertmanager")
# The README's amtool http config: `echo '<this>' > amtool-http.yml`.
_README_AMTOOL_HTTP = re.findall(
    r"echo '(.*)' > amtool-http.yml",
    snippet("Prometheus and Grafana without an Alertmanager", "sh"),
)[0]


class Prometheus(Daemon):
    """Prometheus on 127.0.0.1 whose only Alertmanager is skillpager, its rules in one file."""

    def __init__(self, binary: str, directory: Path, *, target: str, token: str) -> None:
        self.rules_path = directory / "rules.yml"
        self.rules_path.write_text(_rules())
        config = directory / "prometheus.yml"
        # The README's `alerting` block, on plain HTTP here (no TLS proxy in this test).
        [alertmanager] = _README_PROMETHEUS["alerting"]["alertmanagers"]
        alertmanager |= {"scheme": "http", "static_configs": [{"targets": [target]}]}
        alertmanager["authorization"]["credentials"] = token
        config.write_text(  # JSON is YAML
            json.dumps(
                {
                    "global": {"evaluation_interval": "1s"},
                    "rule_files": [str(self.rules_path)],
                    "alerting": {"alertmanagers": [alertmanager]},
                }
            )
        )
        port = free_port()
        self.base_url = f"http://{LOOPBACK}:{port}"
        command = [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={directory / 'data'}",
            f"--web.listen-address={LOOPBACK}:{port}",
            f"--web.external-url={self.base_url}",  # its alerts' generatorURL
            "--web.enable-lifecycle",
            # Re-send every 2 s: `endsAt` is then 8 s ahead (4 x max(interval, delay)).
            "--rules.alert.resend-delay=2s",
        ]
        super().__init__(
            command, directory / "prometheus.log", ready_url=f"{self.base_url}/-/ready"
        )

    def load_rules(self, text: str) -> None:
        """Replace the rules and reload them."""
        self.rules_path.write_text(text)
        response = httpx.post(f"{self.base_url}/-/reload", timeout=10.0)
        assert response.status_code == 200, response.text


@pytest.fixture
def prometheus(server: ServerProcess, tmp_path: Path) -> Iterator[Prometheus]:
    """A Prometheus alerting skillpager (with the webhook token); stopped at test end."""
    binary = require_binary("prometheus")
    directory = tmp_path / "prometheus"
    directory.mkdir()
    target = server.base_url.removeprefix("http://")
    process = Prometheus(binary, directory, target=target, token=server.webhook_token)
    try:
        process.start()
        yield process
    finally:
        process.stop()


def _api(server: ServerProcess, token: str, path: str, **params: Any) -> Any:
    response = httpx.get(
        f"{server.base_url}{path}",
        params=params,
        headers={"Authorization": f"Bearer {token}"},
        timeout=5.0,
    )
    response.raise_for_status()
    return response.json()


def _row(server: ServerProcess, token: str, labels: dict[str, str]) -> dict[str, Any] | None:
    key = f"alertmanager:{fingerprint(labels)}"
    items = _api(server, token, "/api/alerts", source="alertmanager", limit=500)["items"]
    return next((item for item in items if item["dedup_key"] == key), None)


def _paged(server: ServerProcess, token: str, incident_id: int) -> list[dict[str, Any]]:
    pages = _api(server, token, f"/api/incidents/{incident_id}")["pages"]
    return [page for page in pages if page["kind"] == "page"]


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_prometheus_alerts_open_page_and_resolve(
    server: ServerProcess, prometheus: Prometheus
) -> None:
    token = server.create_token()
    prometheus.load_rules(
        _rules(_rule(_SENDS_RESOLVED, "vector(1)"), _rule(_ORPHANED, "vector(1)"))
    )

    def firing(labels: dict[str, str]) -> dict[str, Any] | None:
        row = _row(server, token, labels)
        return row if row and row["status"] == "firing" and row["count"] >= 3 else None

    stops = wait_for("re-sent firing alert", lambda: firing(_SENDS_RESOLVED), server)
    orphaned = wait_for("the other rule's alert", lambda: firing(_ORPHANED), server)
    assert stops["summary"] == "E2EStopsFiring fired"
    assert stops["severity"] == "critical"
    assert stops["source_url"].startswith(prometheus.base_url)
    assert stops["incident_id"] is not None
    assert wait_for("a page", lambda: _paged(server, token, stops["incident_id"]) or None, server)

    prometheus.load_rules(
        _rules(_rule(_SENDS_RESOLVED, "vector(1) < 0"), _rule(_ORPHANED, "vector(1)"))
    )

    def resolved(labels: dict[str, str]) -> dict[str, Any] | None:
        row = _row(server, token, labels)
        return row if row and row["status"] == "resolved" else None

    done = wait_for("Prometheus's resolved alert", lambda: resolved(_SENDS_RESOLVED), server)
    assert done["id"] == stops["id"], "re-sends were one firing cycle: one row"
    # Still firing (a machine stalling Prometheus past an endsAt would have expired it early,
    # and its next send fired it again: the newest row is the one to watch).
    still = _row(server, token, _ORPHANED)
    assert still is not None
    prometheus.stop()  # the other alert is never sent again
    expired = wait_for("the expiry of the alert left firing", lambda: resolved(_ORPHANED), server)
    assert expired["id"] >= orphaned["id"]
    raw = _api(server, token, f"/api/alerts/{expired['id']}")["raw_events"]
    last = json.loads(raw[-1]["body"])
    assert last["receiver"] == "skillpager-expiry"
    assert _when(expired["ended_at"]) == _when(last["alerts"][0]["endsAt"])
    # Its last endsAt: 8 s past its last send.
    assert _when(expired["ended_at"]) - _when(still["last_seen_at"]) < timedelta(seconds=15)
    incident = f"/api/incidents/{stops['incident_id']}"
    wait_for(
        "the incident to resolve",
        lambda: _api(server, token, incident)["state"] == "resolved" or None,
        server,
    )


class Amtool:
    """amtool against skillpager with an engineer token (`--http.config.file`)."""

    def __init__(self, binary: str, directory: Path, *, url: str, token: str) -> None:
        http_config = directory / "amtool-http.yml"
        http_config.write_text(_README_AMTOOL_HTTP.replace("<engineer token>", token))
        self._base = [binary, f"--alertmanager.url={url}", f"--http.config.file={http_config}"]

    def run(self, *args: str) -> str:
        """Run one command; its output (the test fails on a non-zero exit)."""
        done = subprocess.run(
            [*self._base, *args], capture_output=True, text=True, timeout=30, check=False
        )
        assert done.returncode == 0, f"amtool {' '.join(args)}: {done.stderr}{done.stdout}"
        return done.stdout

    def json(self, *args: str) -> Any:
        """Run one command with `-o json`; its decoded output."""
        return json.loads(self.run("-o", "json", *args))


def test_amtool_silences_hold_a_page_and_query_alerts(
    server: ServerProcess, tmp_path: Path
) -> None:
    token = server.create_token()
    amtool = Amtool(require_binary("amtool"), tmp_path, url=server.base_url, token=token)
    labels = {"alertname": "E2ESilenced", "service": "payments-db", "severity": "critical"}

    silence_id = amtool.run(
        "silence", "add", "alertname=E2ESilenced", "--comment=e2e drill", "--duration=1h"
    ).strip()
    [listed] = amtool.json("silence", "query")
    assert listed["id"] == silence_id
    assert listed["status"]["state"] == "active"
    assert listed["matchers"][0] == {
        "name": "alertname",
        "value": "E2ESilenced",
        "isRegex": False,
        "isEqual": True,
    }

    posted = httpx.post(
        f"{server.base_url}/api/v2/alerts",
        json=[{"labels": labels, "annotations": {"summary": "held by a silence"}}],
        headers=server.webhook_headers(),
        timeout=5.0,
    )
    assert posted.status_code == 200, posted.text
    row = wait_for("the posted alert", lambda: _row(server, token, labels), server)
    incident_id = row["incident_id"]
    wait_for(
        "the silence to hold the incident",
        lambda: _api(server, token, f"/api/incidents/{incident_id}")["silenced_until"],
        server,
    )
    assert _paged(server, token, incident_id) == []

    # amtool shows active alerts unless asked for silenced ones.
    assert amtool.json("alert", "query", "alertname=E2ESilenced") == []
    [alert] = amtool.json("alert", "query", "--silenced", "alertname=E2ESilenced")
    assert alert["fingerprint"] == fingerprint(labels)
    assert alert["labels"]["monitor"] == "alertmanager"
    assert alert["status"] == {"state": "suppressed", "silencedBy": [silence_id], "inhibitedBy": []}

    amtool.run("silence", "expire", silence_id)
    assert wait_for("the page after", lambda: _paged(server, token, incident_id) or None, server)
    assert amtool.json("silence", "query") == []
    [expired] = amtool.json("silence", "query", "--expired")
    assert (expired["id"], expired["status"]["state"]) == (silence_id, "expired")
