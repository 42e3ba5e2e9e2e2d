"""Text a database cannot store never hurts the requests batched with it (issue 12.9).

PostgreSQL refuses NUL in text and JSON, and lone surrogates cannot be encoded at all; the
writer commits many requests in one transaction. Poison requests are posted among 1,000 good
ones, all at once, on SQLite and on PostgreSQL: every good one must be answered 202 and be
stored; a poison one is stored with its text cleaned (U+FFFD, said in the alert's note) or
refused with a 4xx naming why, never a 5xx.
"""

import asyncio
import json
from typing import Any

import httpx
from sqlalchemy import func, select

from app.store.tables import Base
from tests.support.app import RunningApp

GOOD = 1000
CONCURRENCY = 64
_alerts = Base.metadata.tables["alerts"]
# Raw JSON text: the escapes must reach our parser as written (json.dumps would emit \ud800
# as is, but a Python str holding a lone surrogate cannot even be encoded to UTF-8).
POISON_GENERIC = [
    '{"summary": "nul \\u0000 in summary", "dedup_key": "p-summary"}',
    '{"summary": "nul in a label value", "dedup_key": "p-value", "labels": {"k": "a\\u0000b"}}',
    '{"summary": "nul in a label key", "dedup_key": "p-key", "labels": {"k\\u0000": "v"}}',
    '{"summary": "lone \\ud800 surrogate", "dedup_key": "p-surrogate"}',
    '{"summary": "low \\udfff alone", "dedup_key": "p-low", "labels": {"s": "\\udc00"}}',
    '{"summary": "nul key \\u0000", "dedup_key": "p-\\u0000-key"}',
]
# Passes parsing on both stores but overflows alerts.dedup_key (500) on PostgreSQL only.
LONG_FINGERPRINT = json.dumps(
    {
        "version": "4",
        "status": "firing",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "Overlong"},
                "annotations": {"summary": "a fingerprint longer than the key column"},
                "startsAt": "2026-11-27T10:00:00Z",
                "fingerprint": "f" * 600,
            }
        ],
    }
)


def _good(index: int) -> tuple[str, str]:
    body = {"summary": f"good {index}", "dedup_key": f"good-{index}", "labels": {"n": str(index)}}
    return "generic", json.dumps(body)


def _requests() -> list[tuple[str, str, bool]]:
    """(source, body, is_poison), the poison spread among the good ones."""
    poison = [("generic", body) for body in POISON_GENERIC] + [("alertmanager", LONG_FINGERPRINT)]
    out: list[tuple[str, str, bool]] = []
    every = GOOD // (len(poison) * 3)
    for index in range(GOOD):
        out.append((*_good(index), False))
        if index % every == 0:
            source, body = poison[(index // every) % len(poison)]
            out.append((source, body, True))
    return out


async def test_poison_among_a_thousand_good_requests_fails_none_of_them(
    app: RunningApp,
) -> None:
    gate = asyncio.Semaphore(CONCURRENCY)

    async def post(source: str, body: str) -> httpx.Response:
        async with gate:
            return await app.client.post(
                f"/webhooks/{source}", content=body.encode(), headers=app.webhook_headers()
            )

    requests = _requests()
    answers = await asyncio.gather(*(post(source, body) for source, body, _ in requests))
    good = [a.status_code for a, (_, _, bad) in zip(answers, requests, strict=True) if not bad]
    poison = [a for a, (_, _, bad) in zip(answers, requests, strict=True) if bad]
    assert good == [202] * GOOD
    assert [a.status_code for a in poison if a.status_code >= 500] == []
    for answer in poison:
        if answer.status_code != 202:
            assert 400 <= answer.status_code < 500
            assert answer.json()["error"], answer.text
    async with app.services.engine.connect() as conn:
        stored = await conn.scalar(
            select(func.count()).where(_alerts.c.dedup_key.like("generic:good-%"))
        )
    assert stored == GOOD


async def test_unstorable_text_is_cleaned_the_same_way_on_every_store(app: RunningApp) -> None:
    for body in POISON_GENERIC:
        answer = await app.client.post(
            "/webhooks/generic", content=body.encode(), headers=app.webhook_headers()
        )
        assert answer.status_code == 202, answer.text
    items = await _alerts_api(app)
    by_key = {item["dedup_key"]: item for item in items}
    assert by_key["generic:p-summary"]["summary"] == "nul \ufffd in summary"
    assert by_key["generic:p-value"]["labels"] == {"k": "a\ufffdb"}
    assert by_key["generic:p-key"]["labels"] == {"k\ufffd": "v"}
    assert by_key["generic:p-surrogate"]["summary"] == "lone \ufffd surrogate"
    assert by_key["generic:p-low"]["labels"] == {"s": "\ufffd"}
    assert "generic:p-\ufffd-key" in by_key
    for item in items:
        assert "replaced by U+FFFD" in (item["severity_note"] or ""), item


async def test_a_row_the_database_refuses_fails_alone_with_a_4xx(app: RunningApp) -> None:
    good = [
        app.client.post(
            "/webhooks/generic", content=_good(i)[1].encode(), headers=app.webhook_headers()
        )
        for i in range(20)
    ]
    bad = app.client.post(
        "/webhooks/alertmanager", content=LONG_FINGERPRINT.encode(), headers=app.webhook_headers()
    )
    *answers, refused = await asyncio.gather(*good, bad)
    assert [a.status_code for a in answers] == [202] * 20
    if app.services.db.is_postgres:  # varchar(500) there; SQLite keeps any length
        assert refused.status_code == 422, refused.text
        assert "value too long" in refused.json()["error"]
    else:
        assert refused.status_code == 202, refused.text


async def _alerts_api(app: RunningApp) -> list[dict[str, Any]]:
    response = await app.client.get(
        "/api/alerts", params={"limit": "100"}, headers=app.reader_headers()
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items
