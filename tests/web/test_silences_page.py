"""The Silences page and "Mute this system" on the incident page, through real HTTP."""

from html import unescape
from typing import Any

import httpx

from tests.web.support import Seeded, browser_client, csrf_of, login


async def _alert(seeded: Seeded, labels: dict[str, str], key: str) -> int:
    body = {"summary": f"down {key}", "severity": "critical", "dedup_key": key, "labels": labels}
    running = seeded.running
    answer = await running.client.post(
        "/webhooks/generic", json=body, headers=running.webhook_headers()
    )
    assert answer.status_code == 202, answer.text
    incident: int = answer.json()["incidents"][0]
    await running.services.escalation.settle()
    return incident


async def _incident(seeded: Seeded, incident_id: int) -> dict[str, Any]:
    running = seeded.running
    await running.services.escalation.cycle()
    answer = await running.client.get(
        f"/api/incidents/{incident_id}", headers=running.reader_headers()
    )
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


async def _silences(seeded: Seeded) -> list[dict[str, Any]]:
    running = seeded.running
    answer = await running.client.get("/api/silences", headers=running.reader_headers())
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def _pages(found: dict[str, Any]) -> list[str]:
    return [p["engineer"] for p in found["pages"] if p["kind"] == "page"]


async def _engineer(client: httpx.AsyncClient, seeded: Seeded) -> str:
    login(client, seeded.running, "engineer", "anna", seeded.running.engineer_token)
    return csrf_of((await client.get("/silences")).text)


async def test_create_from_the_form_holds_then_expire_releases(seeded: Seeded) -> None:
    async with browser_client(seeded.running) as client:
        csrf = await _engineer(client, seeded)
        form = {
            "csrf": csrf,
            "system": "",
            "name-0": "service",
            "value-0": "orders-.*",
            "regex-0": "1",
            "name-1": "severity",
            "value-1": "info",
            "negate-1": "1",
            "name-2": "",
            "value-2": "",
            "duration": "4h",
            "ends": "",
            "starts": "",
            "comment": "orders migration",
        }
        created = await client.post("/silences", data=form)
        assert created.status_code == 303, created.text
        [silence] = await _silences(seeded)
        assert created.headers["location"] == f"/silences#silence-{silence['id']}"
        assert silence["matchers"] == [
            {"name": "service", "value": "orders-.*", "isRegex": True, "isEqual": True},
            {"name": "severity", "value": "info", "isRegex": False, "isEqual": False},
        ]
        assert (silence["createdBy"], silence["comment"]) == ("anna", "orders migration")
        assert silence["status"] == {"state": "active"}

        held = await _alert(seeded, {"service": "orders-api"}, "orders-1")
        found = await _incident(seeded, held)
        assert found["silenced_until"] == silence["endsAt"]
        assert _pages(found) == []
        shown = await client.get("/silences")
        assert 'service=~"orders-.*"' in unescape(shown.text)
        assert 'severity!="info"' in unescape(shown.text)
        assert "orders migration" in shown.text
        assert "None in the last 7 days." in shown.text

        expired = await client.post(f"/silences/{silence['id']}/expire", data={"csrf": csrf})
        assert (expired.status_code, expired.headers["location"]) == (303, "/silences")
        found = await _incident(seeded, held)
        assert found["silenced_until"] is None
        assert _pages(found) != []
        [silence] = await _silences(seeded)
        assert silence["status"] == {"state": "expired"}
        shown = await client.get("/silences")
        assert "No silence is in force" in shown.text
        assert f'id="silence-{silence["id"]}"' in shown.text.split("Recently expired")[1]
        missing = await client.post("/silences/999/expire", data={"csrf": csrf})
        assert missing.status_code == 404


async def test_system_field_end_time_and_pending(seeded: Seeded) -> None:
    async with browser_client(seeded.running) as client:
        csrf = await _engineer(client, seeded)
        form = {
            "csrf": csrf,
            "system": "k8s",
            "starts": "2999-01-01T10:00",
            "ends": "2999-01-01T12:30",
            "duration": "1h",
            "comment": "upgrade window",
        }
        assert (await client.post("/silences", data=form)).status_code == 303
        [silence] = await _silences(seeded)
        shown = await client.get("/silences")
    assert silence["matchers"] == [
        {"name": "system", "value": "k8s", "isRegex": False, "isEqual": True}
    ]
    assert (silence["startsAt"], silence["endsAt"]) == (
        "2999-01-01T10:00:00+00:00",
        "2999-01-01T12:30:00+00:00",
    )
    assert silence["status"] == {"state": "pending"}
    assert "Pending (1)" in shown.text
    assert "Expire silence" in shown.text


async def test_invalid_forms_are_shown_again_and_create_nothing(seeded: Seeded) -> None:
    async with browser_client(seeded.running) as client:
        csrf = await _engineer(client, seeded)
        base = {"csrf": csrf, "duration": "1h", "comment": "why"}
        cases = [
            ({"name-0": "service", "value-0": "(", "regex-0": "1"}, "Matcher row 1: "),
            ({}, "at least one matcher"),
            ({"value-1": "x"}, "row 2 has a value but no label name"),
            ({"system": "k8s", "comment": " "}, "comment"),
            ({"system": "k8s", "ends": "2000-01-01T00:00"}, "passed already"),
            ({"system": "k8s", "ends": "soon"}, "not a date"),
            ({"system": "k8s", "duration": "forever"}, "Pick a duration"),
            ({"system": "k8s", "starts": "2999-01-02T00:00", "ends": "2999-01-01T00:00"}, "after"),
        ]
        for fields, message in cases:
            answer = await client.post("/silences", data=base | fields)
            assert answer.status_code == 422, fields
            assert message in answer.text, (fields, answer.text[:2000])
        kept = await client.post("/silences", data=base | cases[0][0])
        assert 'value="("' in kept.text
    assert await _silences(seeded) == []


async def test_mute_from_the_incident_page(seeded: Seeded) -> None:
    incident = seeded.acme_incident
    async with browser_client(seeded.running) as client:
        login(client, seeded.running, "engineer", "anna", seeded.running.engineer_token)
        shown = await client.get(f"/incidents/{incident}")
        assert "Mute this system" in shown.text
        csrf = csrf_of(shown.text)
        wrong = await client.post(
            f"/incidents/{incident}/mute", data={"csrf": csrf, "duration": "9y"}
        )
        assert wrong.status_code == 422
        answer = await client.post(
            f"/incidents/{incident}/mute", data={"csrf": csrf, "duration": "4h"}
        )
        assert (answer.status_code, answer.headers["location"]) == (
            303,
            f"/incidents/{incident}#timeline",
        )
        missing = await client.post("/incidents/999/mute", data={"csrf": csrf, "duration": "1h"})
        assert missing.status_code == 404
    [silence] = await _silences(seeded)
    assert silence["matchers"] == [
        {"name": "system", "value": "payments-db", "isRegex": False, "isEqual": True}
    ]
    assert silence["createdBy"] == "anna"
    assert silence["comment"] == f"muted from #{incident} via web"
    found = await _incident(seeded, incident)
    assert found["silenced_until"] == silence["endsAt"]
    muted = [e for e in found["timeline"] if e["kind"] == "muted"]
    assert [(e["actor"], e["channel"]) for e in muted] == [("anna", "web")]


async def test_mute_an_unrouted_incident_silences_its_group_labels(seeded: Seeded) -> None:
    incident = await _alert(seeded, {"alertname": "DiskFull", "customer": "acme"}, "disk")
    async with browser_client(seeded.running) as client:
        login(client, seeded.running, "engineer", "anna", seeded.running.engineer_token)
        shown = await client.get(f"/incidents/{incident}")
        assert "Mute this group" in shown.text
        form = {"csrf": csrf_of(shown.text), "duration": "1d"}
        assert (await client.post(f"/incidents/{incident}/mute", data=form)).status_code == 303
    [silence] = await _silences(seeded)
    assert [(m["name"], m["value"]) for m in silence["matchers"]] == [
        ("alertname", "DiskFull"),
        ("customer", "acme"),
    ]


async def test_mute_an_unrouted_incident_without_group_labels_silences_only_its_alert(
    seeded: Seeded,
) -> None:
    incident = await _alert(seeded, {"team": "ops"}, "lonely")
    async with browser_client(seeded.running) as client:
        login(client, seeded.running, "engineer", "anna", seeded.running.engineer_token)
        shown = await client.get(f"/incidents/{incident}")
        form = {"csrf": csrf_of(shown.text), "duration": "1h"}
        assert (await client.post(f"/incidents/{incident}/mute", data=form)).status_code == 303
    [silence] = await _silences(seeded)
    assert [(m["name"], m["value"]) for m in silence["matchers"]] == [
        ("alertname", ""),
        ("customer", ""),
        ("monitor", "generic"),
        ("team", "ops"),
    ]


async def test_customers_see_no_silences_and_posts_need_csrf(seeded: Seeded) -> None:
    incident = seeded.acme_incident
    async with browser_client(seeded.running) as client:
        login(client, seeded.running, "customer", "acme", seeded.acme_token)
        assert (await client.get("/silences")).status_code == 403
        page = await client.get(f"/incidents/{incident}")
        assert page.status_code == 200
        assert "Mute" not in page.text
        assert "/silences" not in page.text
    async with browser_client(seeded.running) as client:
        csrf = await _engineer(client, seeded)
        form = {"system": "k8s", "duration": "1h", "comment": "no token"}
        assert (await client.post("/silences", data=form)).status_code == 403
        assert (await client.post("/silences", data=form | {"csrf": "forged"})).status_code == 403
        mute = await client.post(f"/incidents/{incident}/mute", data={"duration": "1h"})
        assert mute.status_code == 403
        assert (await client.post("/silences", data=form | {"csrf": csrf})).status_code == 303
        [silence] = await _silences(seeded)
        unforged = await client.post(f"/silences/{silence['id']}/expire", data={"csrf": "x"})
        assert unforged.status_code == 403
    [silence] = await _silences(seeded)
    assert silence["status"] == {"state": "active"}
