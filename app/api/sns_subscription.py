"""Amazon SNS over HTTPS: verify every message, confirm allowed subscriptions, unwrap alarms."""

import logging

import httpx

from app.core.alert import ParsedAlert
from app.ingest import cloudwatch, sns
from app.ingest.sns_certs import SnsCertUnavailable
from app.services import Services

log = logging.getLogger(__name__)


def allowed_topics(services: Services) -> list[str]:
    """SKILLPAGER_SNS_TOPICS as a list of topic ARNs (empty: refuse every SNS message)."""
    return [arn.strip() for arn in services.settings.sns_topics.split(",") if arn.strip()]


async def receive_sns(body: bytes, services: Services) -> tuple[list[ParsedAlert], sns.SnsEnvelope]:
    """Verify an SNS message; confirm a subscription, or return a notification's alerts."""
    envelope = sns.parse_envelope(body)
    # Topic and URL checks come before any certificate fetch, so nobody can make us fetch.
    sns.check_envelope(envelope, allowed_topics(services))
    sns.check_age(envelope, services.clock.now())
    pem = await services.sns_certs.load(envelope.signing_cert_url)
    sns.verify_signature(envelope, pem, now=services.clock.now())
    if envelope.type is sns.SnsMessageType.SUBSCRIPTION_CONFIRMATION:
        await _confirm(envelope, services)
        return [], envelope
    if envelope.type is sns.SnsMessageType.UNSUBSCRIBE_CONFIRMATION:
        log.warning("SNS topic unsubscribed us", extra={"topic": envelope.topic_arn})
        return [], envelope
    return cloudwatch.parse(body), envelope


async def _confirm(envelope: sns.SnsEnvelope, services: Services) -> None:
    if envelope.subscribe_url is None:  # parse_envelope requires it for this type
        return
    try:
        response = await services.http.get(envelope.subscribe_url, timeout=10)
    except httpx.HTTPError as exc:
        raise SnsCertUnavailable(f"could not confirm the subscription: {exc}") from exc
    if response.status_code >= 400:
        raise SnsCertUnavailable(f"SNS refused the confirmation: HTTP {response.status_code}")
    log.info("SNS subscription confirmed", extra={"topic": envelope.topic_arn})
