"""SQLAlchemy 2 tables: raw events, alerts, incidents and their timeline, tokens."""

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets BIGINT identities.
Id = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    """Declarative base carrying the constraint naming convention Alembic relies on."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: DateTime(timezone=True),
        dict[str, Any]: JSON,
    }


class RawEvent(Base):
    """The exact bytes a monitor sent, for audit and replay."""

    __tablename__ = "raw_events"
    __table_args__ = (
        Index(
            "uq_raw_events_delivery",
            "source",
            "delivery_id",
            unique=True,
            sqlite_where=text("delivery_id IS NOT NULL"),
            postgresql_where=text("delivery_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    source: Mapped[str] = mapped_column(String(32))
    received_at: Mapped[datetime] = mapped_column(index=True)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    headers: Mapped[dict[str, Any]]
    # Provider delivery id (e.g. SNS MessageId): a redelivery is stored once (unique index).
    delivery_id: Mapped[str | None] = mapped_column(String(200))


class Alert(Base):
    """One firing cycle of a (source, dedup key); at most one open (firing) row per key."""

    __tablename__ = "alerts"
    __table_args__ = (
        Index(
            "uq_alerts_open_key",
            "source",
            "dedup_key",
            unique=True,
            sqlite_where=text("status = 'firing'"),
            postgresql_where=text("status = 'firing'"),
        ),
        Index("ix_alerts_key", "dedup_key"),
        # No (status, …) index on purpose: with one, SQLite prefers it to the partial unique
        # index for the writer's open-row lookup and scans every firing row (measured 45x).
        # The firing list (newest first) walks this partial index instead of the whole table;
        # it has no column the writer's lookup constrains, so that keeps uq_alerts_open_key.
        Index(
            "ix_alerts_firing",
            "id",
            sqlite_where=text("status = 'firing'"),
            postgresql_where=text("status = 'firing'"),
        ),
        # The expiry check's walk: only firing rows that expire are in it.
        Index(
            "ix_alerts_expires_at",
            "expires_at",
            sqlite_where=text("expires_at IS NOT NULL"),
            postgresql_where=text("expires_at IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    source: Mapped[str] = mapped_column(String(32))
    dedup_key: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(16))
    severity_note: Mapped[str | None] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text)
    labels: Mapped[dict[str, Any]]
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    count: Mapped[int] = mapped_column(Integer, default=1)
    source_url: Mapped[str | None] = mapped_column(Text)
    runbook_url: Mapped[str | None] = mapped_column(Text)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), index=True)
    # A firing row resolves by itself then unless its monitor sends it again (Alertmanager API
    # v2 alerts); None on every other row.
    expires_at: Mapped[datetime | None]


class AlertRawEvent(Base):
    """Which raw events touched which alert row (the alert's audit trail)."""

    __tablename__ = "alert_raw_events"

    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"), primary_key=True)
    # Indexed on its own: pruning deletes links by raw event (and PostgreSQL checks the foreign
    # key per deleted raw event), which the (alert_id, raw_event_id) key cannot serve.
    raw_event_id: Mapped[int] = mapped_column(
        ForeignKey("raw_events.id"), primary_key=True, index=True
    )


class Incident(Base):
    """A group's open problem: what the ladder walks and engineers act on."""

    __tablename__ = "incidents"
    __table_args__ = (
        # One open incident per group, enforced by the database so replicas cannot open two.
        Index(
            "uq_incidents_open_group",
            "group_key",
            unique=True,
            sqlite_where=text("state != 'resolved'"),
            postgresql_where=text("state != 'resolved'"),
        ),
        Index("ix_incidents_state_next", "state", "next_action_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    group_key: Mapped[str] = mapped_column(String(500))
    state: Mapped[str] = mapped_column(String(16))
    system: Mapped[str | None] = mapped_column(String(200))
    customer: Mapped[str | None] = mapped_column(String(200), index=True)
    severity: Mapped[str] = mapped_column(String(16))
    summary: Mapped[str] = mapped_column(Text)
    unrouted: Mapped[bool]
    alert_count: Mapped[int] = mapped_column(Integer, default=0)
    opened_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(100))
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(100))
    next_action_at: Mapped[datetime | None]
    decision: Mapped[dict[str, Any]]
    rules_version: Mapped[str] = mapped_column(String(64))
    cycle: Mapped[int] = mapped_column(Integer, default=1)
    step_index: Mapped[int] = mapped_column(Integer, default=0)
    round: Mapped[int] = mapped_column(Integer, default=0)
    flags: Mapped[dict[str, Any]]


class IncidentEvent(Base):
    """One timeline entry: a state change or note, with who, via which channel, and when."""

    __tablename__ = "incident_events"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str | None] = mapped_column(String(100))
    channel: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)


class ApiToken(Base):
    """A bearer token, stored as its SHA-256; the plain token is shown once at creation."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class Page(Base):
    """The outbox: every page is a row before any provider is called.

    The unique key makes a second send of the same page impossible, whichever replica or
    restart tries it.
    """

    __tablename__ = "pages"
    __table_args__ = (
        UniqueConstraint(
            "incident_id",
            "cycle",
            "step",
            "round",
            "engineer",
            "channel",
            "kind",
            name="uq_pages_once",
        ),
        Index("ix_pages_status_due", "status", "next_attempt_at"),
        Index("ix_pages_engineer_sent", "engineer", "channel", "sent_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), index=True)
    engineer: Mapped[str] = mapped_column(String(100))
    channel: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))
    cycle: Mapped[int] = mapped_column(Integer, default=0)
    step: Mapped[int] = mapped_column(Integer, default=0)
    round: Mapped[int] = mapped_column(Integer, default=0)
    text: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    created_at: Mapped[datetime]
    claimed_at: Mapped[datetime | None]
    # Which process sent it ("host:pid"): replicas share the outbox, this shows who did what.
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    sent_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    provider_id: Mapped[str | None] = mapped_column(String(100), index=True)
    last_error: Mapped[str | None] = mapped_column(Text)
    # A page a failed channel fell back from (so the fallback is written once).
    fallback_of: Mapped[int | None] = mapped_column(Integer)


class EngineerState(Base):
    """What the service learned about an engineer at run time, over the YAML skills map."""

    __tablename__ = "engineer_states"

    engineer: Mapped[str] = mapped_column(String(100), primary_key=True)
    away_until: Mapped[datetime | None]
    sms_unhealthy: Mapped[str | None] = mapped_column(String(200))
    voice_unhealthy: Mapped[str | None] = mapped_column(String(200))
    slack_unhealthy: Mapped[str | None] = mapped_column(String(200))
    sms_opted_out: Mapped[bool] = mapped_column(default=False)
    bad_replies: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime]


class Silence(Base):
    """An Alertmanager-style silence: matching alerts are stored and shown, never paged."""

    __tablename__ = "silences"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    matchers: Mapped[dict[str, Any]]  # {"matchers": [{name, value, isRegex, isEqual}]}
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime] = mapped_column(index=True)
    created_by: Mapped[str] = mapped_column(String(100))
    comment: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    expired_at: Mapped[datetime | None]


class NoteVisibility(Base):
    """Who may read a timeline note (an incident event of kind "note"): internal or shared.

    A note without a row here is internal: customers see only notes marked shared.
    """

    __tablename__ = "note_visibility"

    event_id: Mapped[int] = mapped_column(ForeignKey("incident_events.id"), primary_key=True)
    visibility: Mapped[str] = mapped_column(String(16))


class SignInCode(Base):
    """A one-time dashboard sign-in code sent by SMS, kept as a keyed hash until it expires."""

    __tablename__ = "sign_in_codes"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    engineer: Mapped[str] = mapped_column(String(100), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    used_at: Mapped[datetime | None]


class Heartbeat(Base):
    """A skills-map heartbeat: when it last beat, and whether its missed-beat alert fires."""

    __tablename__ = "heartbeats"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    system: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16))  # ok | late
    last_beat_at: Mapped[datetime | None]
    # When the heartbeat first appeared in the rules: the start of the wait for its first beat.
    watched_since: Mapped[datetime]
    late_at: Mapped[datetime | None]


class ProviderHealth(Base):
    """A paging channel's current run of provider-side failures (config errors, 5xx)."""

    __tablename__ = "provider_health"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    failing_since: Mapped[datetime]
    last_failure_at: Mapped[datetime]
    # The newest failed page: a page after it that was sent means the provider works again.
    last_page_id: Mapped[int] = mapped_column(Id)
    last_error: Mapped[str] = mapped_column(Text)
    config_error: Mapped[bool]
    raised_at: Mapped[datetime | None]


class Readiness(Base):
    """One heartbeat row `/readyz` rewrites: a store that cannot take this write is not ready."""

    __tablename__ = "readiness"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    beat_at: Mapped[datetime]


class InboundReceipt(Base):
    """A provider callback already acted on: a Slack action, a Twilio SMS or key press.

    A replay of the same request (same `kind` and `key`) is answered with `answer`, what the
    first one got, and changes nothing. Kept as long as raw events (retention.py).
    """

    __tablename__ = "inbound_receipts"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(index=True)
    # {"status", "media_type", "body"} of the first answer; None until its transaction ends.
    answer: Mapped[dict[str, Any] | None]


class WebSession(Base):
    """A dashboard session: the cookie carries its id, the store only the id's SHA-256.

    Sign-out, "sign out everywhere" and revoking the token it came from set `revoked_at`, which
    ends it at the browser's next request, whoever holds a copy of the cookie.
    """

    __tablename__ = "web_sessions"
    __table_args__ = (Index("ix_web_sessions_principal", "subject", "kind"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    id_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # engineer | customer
    subject: Mapped[str] = mapped_column(String(200))
    # The token it was signed in with (None for an SMS code): revoking the token ends it.
    token_id: Mapped[int | None] = mapped_column(ForeignKey("api_tokens.id"), index=True)
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
    user_agent: Mapped[str] = mapped_column(String(200))
    revoked_at: Mapped[datetime | None]


class Rejection(Base):
    """A request the service refused (4xx/503), for `skillpager log-tail --rejected` and the
    Rules page. Never the token: the path only, without the query string. The newest rows only
    are kept (app/store/rejections.py trims after each batch)."""

    __tablename__ = "rejections"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    at: Mapped[datetime]
    method: Mapped[str] = mapped_column(String(16))
    path: Mapped[str] = mapped_column(String(500))
    client: Mapped[str] = mapped_column(String(100))  # the sender's address
    status: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text)


class ChangeEvent(Base):
    """A change a tool reported (a deploy, a config push; PagerDuty's change events): shown
    beside the incidents of its system, never paging. Written only by app/store/change_events.py."""

    __tablename__ = "change_events"
    __table_args__ = (Index("ix_change_events_system_at", "system", "at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    at: Mapped[datetime]  # when it happened (the event's timestamp, else when it arrived)
    system: Mapped[str | None] = mapped_column(String(200))  # None: it matched no system
    customer: Mapped[str | None] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(String(500))
    links: Mapped[list[dict[str, str]]] = mapped_column(JSON)
