"""CloudWatch through SNS over real HTTP: signed deliveries, redeliveries, refusals, confirmation.

Signatures come from a throwaway test CA (tests/ingest/sns_keys.py), never a real AWS key. The
signing cert is pinned in SKILLPAGER_SNS_CERTS_DIR; outbound calls (the SubscribeURL GET, cert
fetches) go to an httpx.MockTransport standing in for AWS.
"""

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from app.clock import FrozenClock
from app.ingest.sns import ACCEPTANCE_WINDOW
from app.ingest.sns_certs import SnsCertStore
from app.store.retention import prune
from app.store.tables import RawEvent
from tests.ingest.sns_keys import NOW, Signer, body, make_signer
from tests.support.app import RunningApp, app_settings, running_app

CLOUDWATCH = Path(__file__).parent.parent / "fixtures" / "cloudwatch"
TOPIC = "arn:aws:sns:eu-west-1:123456789012:skillpager-alarms"
OTHER_TOPIC = "arn:aws:sns:eu-west-1:123456789012:someone-elses-topic"
CERT_NAME = "SimpleNotificationService-0123456789abcdef.pem"
CERT_URL = f"https://sns.eu-west-1.amazonaws.com/{CERT_NAME}"
UNPINNED_CERT_URL = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-fedcba98.pem"
ALARM_ARN = "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:payments-db-cpu"
SUBSCRIBE_URL = (
    "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription"
    f"&TopicArn={TOPIC}&Token=2336412f37fb687f"
)


@pytest.fixture(scope="module")
def signer() -> Signer:
    return make_signer()


@pytest.fixture
def certs_dir(tmp_path: Path, signer: Signer) -> Path:
    pinned = tmp_path / "sns-certs"
    pinned.mkdir()
    (pinned / CERT_NAME).write_bytes(signer.cert_pem)
    return pinned


@pytest.fixture
async def sns_app(sqlite_database: str, certs_dir: Path) -> AsyncIterator[RunningApp]:
    settings = app_settings(sqlite_database, sns_topics=TOPIC, sns_certs_dir=certs_dir)
    async with running_app(settings, clock=FrozenClock(NOW)) as running:
        yield running


class FakeAws:
    """The AWS side of our outbound calls: records each request and answers as told."""

    def __init__(self, cert_pem: bytes) -> None:
        self.requests: list[httpx.Request] = []
        self.cert_pem = cert_pem
        self.subscribe_status = 200
        # None: the cert host cannot be reached at all.
        self.cert_status: int | None = 200

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path.endswith(".pem"):
            if self.cert_status is None:
                raise httpx.ConnectError("connection refused", request=request)
            content = self.cert_pem if self.cert_status == 200 else b"nope"
            return httpx.Response(self.cert_status, content=content)
        return httpx.Response(self.subscribe_status, text="<ConfirmSubscriptionResponse/>")

    @property
    def urls(self) -> list[str]:
        return [str(request.url) for request in self.requests]


@pytest.fixture
async def aws(sns_app: RunningApp, signer: Signer) -> AsyncIterator[FakeAws]:
    """Route `services.http` to a fake AWS (a transport for the outbound call, not a patch)."""
    fake = FakeAws(signer.cert_pem)
    original = sns_app.services.http
    mock = httpx.AsyncClient(transport=httpx.MockTransport(fake.handle))
    sns_app.services.http = mock
    try:
        yield fake
    finally:
        # The lifespan closes services.http: give it back the client it created.
        sns_app.services.http = original
        await mock.aclose()


def _alarm_message(fixture: str) -> str:
    message: str = json.loads((CLOUDWATCH / fixture).read_bytes())["Message"]
    return message


def notification(
    message_id: str = "b2a1c9f4-6f3e-5d8a-9a8e-4d2f7c1e0a11",
    *,
    fixture: str = "alarm_firing.json",
    topic: str = TOPIC,
    cert_url: str = CERT_URL,
) -> dict[str, str]:
    return {
        "Type": "Notification",
        "MessageId": message_id,
        "TopicArn": topic,
        "Subject": 'ALARM: "payments-db-cpu" in EU (Ireland)',
        "Message": _alarm_message(fixture),
        "Timestamp": "2025-03-14T09:25:41.376Z",
        "SigningCertURL": cert_url,
        "UnsubscribeURL": "https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe&x=y",
    }


def confirmation(message_id: str = "165545c9-2a5c-472c-8df2-7ff2be2b3b1b") -> dict[str, str]:
    return {
        "Type": "SubscriptionConfirmation",
        "MessageId": message_id,
        "Token": "2336412f37fb687f5d51e6e241d08f5a5a5a",
        "TopicArn": TOPIC,
        "Message": f"You have chosen to subscribe to the topic {TOPIC}.\nTo confirm, visit it.",
        "SubscribeURL": SUBSCRIBE_URL,
        "Timestamp": "2025-03-14T09:00:00.000Z",
        "SigningCertURL": CERT_URL,
    }


async def deliver(app: RunningApp, envelope: dict[str, str]) -> httpx.Response:
    """POST a (signed) envelope the way SNS does: text/plain JSON, SNS headers, no token."""
    headers = {
        "Content-Type": "text/plain; charset=UTF-8",
        "User-Agent": "Amazon Simple Notification Service Agent",
        "x-amz-sns-message-type": envelope.get("Type", ""),
        "x-amz-sns-message-id": envelope.get("MessageId", ""),
        "x-amz-sns-topic-arn": envelope.get("TopicArn", ""),
    }
    return await app.client.post("/webhooks/cloudwatch", content=body(envelope), headers=headers)


async def stored_alerts(app: RunningApp) -> list[dict[str, Any]]:
    response = await app.client.get("/api/alerts", headers=app.reader_headers())
    assert response.status_code == 200
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def raw_event_count(app: RunningApp) -> int:
    async with app.services.engine.connect() as conn:
        count = await conn.scalar(select(func.count(RawEvent.id)))
    return int(count or 0)


# (a) A signed Notification carrying an ALARM is stored as a CloudWatch alert.


@pytest.mark.parametrize("version", ["1", "2"])
async def test_signed_alarm_notification_is_stored(
    sns_app: RunningApp, signer: Signer, version: str
) -> None:
    response = await deliver(sns_app, signer.sign(notification(), version))
    assert response.status_code == 202, response.text
    [alert_id] = response.json()["alerts"]
    [alert] = await stored_alerts(sns_app)
    assert alert["id"] == alert_id
    assert alert["dedup_key"] == f"cloudwatch:{ALARM_ARN}"
    assert (alert["status"], alert["severity"], alert["count"]) == ("firing", "critical", 1)
    assert alert["summary"] == "payments-db-cpu"
    assert alert["labels"] == {
        "alarm_name": "payments-db-cpu",
        "aws_account_id": "123456789012",
        "aws_region": "eu-west-1",
        "namespace": "AWS/RDS",
        "metric_name": "CPUUtilization",
        "DBInstanceIdentifier": "payments-db-replica-2",
    }
    assert alert["started_at"] == "2025-03-14T09:25:41.305000+00:00"


# (b) SNS retries reuse the MessageId: answered 202 "duplicate", nothing stored twice.


async def test_redelivered_message_id_is_a_duplicate_and_stores_nothing(
    sns_app: RunningApp, signer: Signer
) -> None:
    signed = signer.sign(notification())
    assert (await deliver(sns_app, signed)).status_code == 202
    assert await raw_event_count(sns_app) == 1

    again = await deliver(sns_app, signed)
    assert again.status_code == 202, again.text
    assert again.json() == {"alerts": [], "incidents": [], "duplicate": True}
    assert await raw_event_count(sns_app) == 1
    [alert] = await stored_alerts(sns_app)
    assert alert["count"] == 1
    detail = await sns_app.client.get(
        f"/api/alerts/{alert['id']}", headers=sns_app.reader_headers()
    )
    assert len(detail.json()["raw_events"]) == 1


async def test_forged_message_reusing_a_stored_message_id_is_refused(
    sns_app: RunningApp, signer: Signer
) -> None:
    signed = signer.sign(notification())
    assert (await deliver(sns_app, signed)).status_code == 202
    # The duplicate answer must not be a way around the signature check.
    forged = signed | {"Message": signed["Message"].replace("ALARM", "OK")}
    assert (await deliver(sns_app, forged)).status_code == 403


# (c) OK for the same alarm (a new MessageId) resolves the open alert.


async def test_ok_notification_resolves_the_alarm(sns_app: RunningApp, signer: Signer) -> None:
    firing = await deliver(sns_app, signer.sign(notification("msg-alarm")))
    [alert_id] = firing.json()["alerts"]
    ok = signer.sign(notification("msg-ok", fixture="ok_resolved.json"), "2")
    response = await deliver(sns_app, ok)
    assert response.status_code == 202, response.text
    assert response.json()["alerts"] == [alert_id]
    [alert] = await stored_alerts(sns_app)
    assert (alert["id"], alert["status"]) == (alert_id, "resolved")
    # OK takes the severity of the state it clears (OldStateValue ALARM).
    assert alert["severity"] == "critical"
    assert alert["ended_at"] == "2025-03-14T09:55:41.305000+00:00"
    assert alert["started_at"] == "2025-03-14T09:25:41.305000+00:00"
    assert await raw_event_count(sns_app) == 2


# (d) A tampered Message fails the signature.


@pytest.mark.parametrize("version", ["1", "2"])
@pytest.mark.parametrize(
    "tamper",
    [
        lambda e: e | {"Message": e["Message"].replace("payments-db-cpu", "other-alarm")},
        lambda e: e | {"Message": e["Message"] + " "},
        lambda e: e | {"Subject": "OK"},
        lambda e: {k: v for k, v in e.items() if k != "Subject"},
        lambda e: e | {"MessageId": "another-id"},
        lambda e: e | {"Signature": "AAAA" + e["Signature"][4:]},
        lambda e: e | {"Signature": "not base64!"},
    ],
    ids=[
        "message",
        "message_ws",
        "subject",
        "no_subject",
        "message_id",
        "signature",
        "signature_text",
    ],
)
async def test_tampered_notification_is_forbidden(
    sns_app: RunningApp, signer: Signer, version: str, tamper: Any
) -> None:
    response = await deliver(sns_app, tamper(signer.sign(notification(), version)))
    assert response.status_code == 403, response.text
    assert await stored_alerts(sns_app) == []
    assert await raw_event_count(sns_app) == 0


async def test_message_signed_by_another_key_is_forbidden(sns_app: RunningApp) -> None:
    stranger = make_signer()
    response = await deliver(sns_app, stranger.sign(notification()))
    assert response.status_code == 403
    assert await stored_alerts(sns_app) == []


# (e) Only allow-listed topics; an empty allow-list refuses everything.


async def test_topic_not_on_the_allow_list_is_forbidden(
    sns_app: RunningApp, signer: Signer, aws: FakeAws
) -> None:
    response = await deliver(sns_app, signer.sign(notification(topic=OTHER_TOPIC)))
    assert response.status_code == 403, response.text
    assert "not allowed" in response.json()["detail"]
    assert await stored_alerts(sns_app) == []
    assert aws.requests == []


async def test_confirmation_for_a_topic_not_allowed_is_not_confirmed(
    sns_app: RunningApp, signer: Signer, aws: FakeAws
) -> None:
    envelope = confirmation() | {"TopicArn": OTHER_TOPIC}
    response = await deliver(sns_app, signer.sign(envelope))
    assert response.status_code == 403
    assert aws.requests == []


async def test_empty_allow_list_refuses_every_topic(
    sqlite_database: str, certs_dir: Path, signer: Signer
) -> None:
    settings = app_settings(sqlite_database, sns_topics="", sns_certs_dir=certs_dir)
    async with running_app(settings, clock=FrozenClock(NOW)) as running:
        response = await deliver(running, signer.sign(notification()))
        assert response.status_code == 403, response.text
        assert await stored_alerts(running) == []


async def test_allow_list_takes_several_topics(
    sqlite_database: str, certs_dir: Path, signer: Signer
) -> None:
    topics = f" {OTHER_TOPIC} , {TOPIC} "
    settings = app_settings(sqlite_database, sns_topics=topics, sns_certs_dir=certs_dir)
    async with running_app(settings, clock=FrozenClock(NOW)) as running:
        response = await deliver(running, signer.sign(notification()))
        assert response.status_code == 202, response.text


# (f) A SigningCertURL off SNS's hosts is refused before anything is fetched.


SPOOFED_CERT_URLS = [
    f"https://sns.eu-west-1.amazonaws.com.attacker.example/{CERT_NAME}",
    f"https://attacker.example/{CERT_NAME}",
    f"https://my-bucket.s3.amazonaws.com/{CERT_NAME}",
    f"https://sns.eu-west-1.amazonaws.com@attacker.example/{CERT_NAME}",
    f"http://sns.eu-west-1.amazonaws.com/{CERT_NAME}",
    f"https://sns.eu-west-1.amazonaws.com:8443/{CERT_NAME}",
    "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0123456789abcdef.txt",
]


@pytest.mark.parametrize("cert_url", SPOOFED_CERT_URLS)
async def test_spoofed_signing_cert_url_is_forbidden_without_a_fetch(
    sns_app: RunningApp, signer: Signer, aws: FakeAws, certs_dir: Path, cert_url: str
) -> None:
    # Even with the spoofed file name pinned locally, and a client that would answer.
    sns_app.services.sns_certs = SnsCertStore(certs_dir=certs_dir, client=sns_app.services.http)
    response = await deliver(sns_app, signer.sign(notification(cert_url=cert_url)))
    assert response.status_code == 403, response.text
    assert aws.requests == []
    assert await stored_alerts(sns_app) == []


# (g) SubscriptionConfirmation: verified, then the SubscribeURL is fetched.


@pytest.mark.parametrize("version", ["1", "2"])
async def test_subscription_confirmation_gets_the_subscribe_url(
    sns_app: RunningApp, signer: Signer, aws: FakeAws, version: str
) -> None:
    response = await deliver(sns_app, signer.sign(confirmation(), version))
    assert response.status_code == 202, response.text
    assert response.json()["alerts"] == []
    # The pinned cert was used: the only outbound call is the confirmation itself.
    assert aws.urls == [SUBSCRIBE_URL]
    assert aws.requests[0].method == "GET"
    assert await stored_alerts(sns_app) == []


async def test_refused_confirmation_is_503_so_sns_retries(
    sns_app: RunningApp, signer: Signer, aws: FakeAws
) -> None:
    aws.subscribe_status = 500
    signed = signer.sign(confirmation())
    response = await deliver(sns_app, signed)
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"]
    assert aws.urls == [SUBSCRIBE_URL]
    # Nothing was recorded for the MessageId, so SNS's retry is not taken for a duplicate.
    assert await raw_event_count(sns_app) == 0
    aws.subscribe_status = 200
    retried = await deliver(sns_app, signed)
    assert retried.status_code == 202, retried.text
    assert "duplicate" not in retried.json()
    assert aws.urls == [SUBSCRIBE_URL, SUBSCRIBE_URL]


async def test_unreachable_subscribe_url_is_503(sns_app: RunningApp, signer: Signer) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("timed out", request=request)

    original = sns_app.services.http
    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as mock:
        sns_app.services.http = mock
        try:
            response = await deliver(sns_app, signer.sign(confirmation()))
        finally:
            sns_app.services.http = original
    assert response.status_code == 503


async def test_tampered_confirmation_is_not_confirmed(
    sns_app: RunningApp, signer: Signer, aws: FakeAws
) -> None:
    signed = signer.sign(confirmation())
    evil = SUBSCRIBE_URL.replace("Token=2336412f37fb687f", "Token=attacker")
    response = await deliver(sns_app, signed | {"SubscribeURL": evil})
    assert response.status_code == 403
    assert aws.requests == []


@pytest.mark.parametrize(
    "subscribe_url",
    [
        "https://attacker.example/?Action=ConfirmSubscription",
        "http://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription",
    ],
)
async def test_signed_confirmation_with_a_foreign_subscribe_url_is_not_fetched(
    sns_app: RunningApp, signer: Signer, aws: FakeAws, subscribe_url: str
) -> None:
    response = await deliver(sns_app, signer.sign(confirmation() | {"SubscribeURL": subscribe_url}))
    assert response.status_code == 403
    assert aws.requests == []


# (h) A cert neither pinned nor fetchable: 503, so SNS retries later.


@pytest.fixture
def unpinned(sns_app: RunningApp, aws: FakeAws) -> FakeAws:
    """A cert store with no pinned dir, fetching through the fake AWS."""
    sns_app.services.sns_certs = SnsCertStore(certs_dir=None, client=sns_app.services.http)
    return aws


@pytest.mark.parametrize("cert_status", [None, 500, 503])
async def test_cert_fetch_failure_is_503(
    sns_app: RunningApp, signer: Signer, unpinned: FakeAws, cert_status: int | None
) -> None:
    unpinned.cert_status = cert_status
    response = await deliver(sns_app, signer.sign(notification(cert_url=UNPINNED_CERT_URL)))
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"]
    assert unpinned.urls == [UNPINNED_CERT_URL]
    assert await stored_alerts(sns_app) == []
    # A failed fetch is not cached: once SNS answers, the retry goes through.
    unpinned.cert_status = 200
    retried = await deliver(sns_app, signer.sign(notification(cert_url=UNPINNED_CERT_URL)))
    assert retried.status_code == 202, retried.text
    assert unpinned.urls == [UNPINNED_CERT_URL, UNPINNED_CERT_URL]


async def test_cert_missing_from_pinned_dir_is_fetched(
    sns_app: RunningApp, signer: Signer, aws: FakeAws, certs_dir: Path
) -> None:
    sns_app.services.sns_certs = SnsCertStore(certs_dir=certs_dir, client=sns_app.services.http)
    response = await deliver(sns_app, signer.sign(notification(cert_url=UNPINNED_CERT_URL)))
    assert response.status_code == 202, response.text
    assert aws.urls == [UNPINNED_CERT_URL]


async def test_cert_not_found_at_sns_is_forbidden(
    sns_app: RunningApp, signer: Signer, unpinned: FakeAws
) -> None:
    unpinned.cert_status = 404
    response = await deliver(sns_app, signer.sign(notification(cert_url=UNPINNED_CERT_URL)))
    assert response.status_code == 403


# Odd deliveries answer 4xx, never 500.


async def test_raw_message_delivery_is_refused(sns_app: RunningApp) -> None:
    raw = _alarm_message("alarm_firing.json")
    response = await sns_app.client.post(
        "/webhooks/cloudwatch",
        content=raw,
        headers={"Content-Type": "text/plain", "x-amz-sns-rawdelivery": "true"},
    )
    assert response.status_code == 400
    assert "raw message delivery" in response.json()["detail"]


async def test_unsubscribe_confirmation_is_accepted_without_alerts(
    sns_app: RunningApp, signer: Signer, aws: FakeAws
) -> None:
    envelope = confirmation() | {"Type": "UnsubscribeConfirmation"}
    response = await deliver(sns_app, signer.sign(envelope))
    assert response.status_code == 202, response.text
    assert aws.requests == []
    assert await stored_alerts(sns_app) == []


async def test_concurrent_redeliveries_store_the_message_once(
    database_url: str, certs_dir: Path, signer: Signer
) -> None:
    """SNS may retry while the first delivery is still being written (on both stores)."""
    settings = app_settings(database_url, sns_topics=TOPIC, sns_certs_dir=certs_dir)
    async with running_app(settings, clock=FrozenClock(NOW)) as running:
        signed = signer.sign(notification())
        answers = await asyncio.gather(*(deliver(running, signed) for _ in range(10)))
        assert [a.status_code for a in answers] == [202] * 10
        # The writer checks each MessageId inside its own transaction (ingest/writer.py), so
        # redeliveries racing the first write are stored once.
        [alert] = await stored_alerts(running)
        assert (alert["count"], await raw_event_count(running)) == (1, 1)


# (h) Age: a signed message is replayable, so its Timestamp must be recent (within an hour,
# at most 15 minutes ahead), and its MessageId outlives `prune` for as long as that.


@pytest.mark.parametrize(
    "stamp", ["2019-06-01T12:00:00.000Z", "2025-03-14T08:29:00.000Z", "2025-03-14T10:00:00.000Z"]
)
async def test_a_stale_or_future_message_is_refused(
    sns_app: RunningApp, signer: Signer, stamp: str
) -> None:
    response = await deliver(sns_app, signer.sign(notification() | {"Timestamp": stamp}))
    assert response.status_code == 403, response.text
    assert "Timestamp" in response.text
    assert await raw_event_count(sns_app) == 0


async def test_a_message_id_outlives_prune_while_its_bytes_are_accepted(
    sns_app: RunningApp, signer: Signer
) -> None:
    signed = signer.sign(notification())
    assert (await deliver(sns_app, signed)).status_code == 202
    clock = sns_app.services.clock
    assert isinstance(clock, FrozenClock)
    # Even a prune told to keep nothing keeps the MessageId while the bytes could be replayed.
    await prune(sns_app.services.db, now=clock.now(), keep=timedelta(0))
    again = await deliver(sns_app, signed)
    assert again.json() == {"alerts": [], "incidents": [], "duplicate": True}
    clock.advance(ACCEPTANCE_WINDOW + timedelta(seconds=1))
    assert await prune(sns_app.services.db, now=clock.now(), keep=timedelta(0)) == 1
    late = await deliver(sns_app, signed)
    assert late.status_code == 403, late.text
    assert len(await stored_alerts(sns_app)) == 1
    [alert] = await stored_alerts(sns_app)
    assert alert["count"] == 1
