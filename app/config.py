"""Settings from the environment (prefix `SKILLPAGER_`), validated once at startup."""

import ipaddress
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.routing.timespec import parse_duration


class SettingsInvalid(Exception):
    """Startup settings are wrong; `problems` holds one readable line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class Settings(BaseSettings):
    """Every setting of ARCHITECTURE §4, plus test-only switches."""

    model_config = SettingsConfigDict(env_prefix="SKILLPAGER_", extra="ignore", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    database_url: str = "sqlite+aiosqlite:///./skillpager.db"
    rules_dir: Path = Path("./routing_rules")
    # How often the escalation tick and the outbox sender run (an extension of §4).
    tick_interval_s: float = Field(1.0, gt=0)
    # A page `sending` this long on PostgreSQL belongs to a dead replica and is settled.
    sending_stale_s: float = Field(60.0, gt=0)
    # How often RULES_DIR is checked for edits (an extension of §4).
    rules_poll_s: float = Field(2.0, gt=0)
    webhook_token: SecretStr | None = None
    # Where people and providers reach us; default: http://{host}:{port}.
    public_url: str = ""
    max_body_bytes: int = Field(1024 * 1024, gt=0)
    # Dashboard forms and JSON API bodies (not webhooks, provider callbacks or dry-run
    # payloads, which take MAX_BODY_BYTES); past it 413 (an extension of §4).
    max_form_bytes: int = Field(64 * 1024, gt=0)
    session_secret: SecretStr | None = None
    retention_days: int = Field(30, gt=0)
    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_from: str | None = None
    twilio_api_url: str = "https://api.twilio.com"
    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api"
    # How long one provider request (Twilio, Slack) may take before it counts as ambiguous.
    provider_timeout_s: float = Field(10.0, gt=0)
    sms_min_interval: str = "60s"
    sms_per_15min: int = Field(5, ge=0)
    sns_topics: str = ""
    sns_certs_dir: Path | None = None
    grafana_hmac_secret: SecretStr | None = None
    # Our own dead-man's switch, pinged while the engine runs (an extension of §4).
    outbound_heartbeat_url: str | None = None
    outbound_heartbeat_method: str = Field("GET", pattern="^(GET|POST)$")
    outbound_heartbeat_every_s: float = Field(60.0, gt=0)
    # Alerts per second one webhook token (or signed source) may send before its alerts are
    # only grouped into open incidents, not routed; 0 = no limit (an extension of §4).
    ingest_rate_per_token: float = Field(0.0, ge=0)
    # How long the writer waits for a locked/unavailable database before answering 503.
    db_timeout_s: float = Field(5.0, gt=0)
    log_format: str = Field("auto", pattern="^(auto|json|text)$")
    # Reverse proxies (comma-separated IPs or CIDRs) whose X-Forwarded-For / -Proto are
    # believed; empty: none, the peer address is the client (an extension of §4).
    trusted_proxies: str = ""
    testing: bool = False
    failpoint: str | None = None

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value

    @model_validator(mode="before")
    @classmethod
    def _default_public_url(cls, values: Any) -> Any:
        if isinstance(values, dict) and not values.get("public_url"):
            host = values.get("host") or "127.0.0.1"
            values = {**values, "public_url": f"http://{host}:{values.get('port') or 8080}"}
        return values

    @field_validator("public_url", "twilio_api_url", "slack_api_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("outbound_heartbeat_url")
    @classmethod
    def _optional_http_url(cls, value: str | None) -> str | None:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value or None

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, value: str) -> str:
        for item in (part.strip() for part in value.split(",")):
            if item and item != "*":
                ipaddress.ip_network(item, strict=False)  # ValueError names the bad item
        return value

    @field_validator("sms_min_interval")
    @classmethod
    def _duration(cls, value: str) -> str:
        if value.strip() not in ("0", "0s"):
            parse_duration(value)  # raises ValueError with the accepted forms
        return value.strip()

    @property
    def sms_interval(self) -> timedelta:
        """SMS_MIN_INTERVAL as a duration (0 turns it off)."""
        return (
            timedelta(0)
            if self.sms_min_interval in ("0", "0s")
            else parse_duration(self.sms_min_interval)
        )

    @property
    def trusted_proxy_list(self) -> list[str]:
        """TRUSTED_PROXIES as a list (empty: trust no forwarding header)."""
        return [item.strip() for item in self.trusted_proxies.split(",") if item.strip()]

    @property
    def is_sqlite(self) -> bool:
        """True when the store is an embedded SQLite file."""
        return self.database_url.startswith("sqlite")

    def active_failpoint(self) -> str | None:
        """The crash-test failpoint (after_commit_before_202, after_claim,
        after_provider_accept), honoured only when SKILLPAGER_TESTING=1."""
        return self.failpoint if self.testing else None


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment, raising SettingsInvalid with one line per problem."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]  # pydantic-settings takes kwargs
    except ValidationError as exc:
        raise SettingsInvalid(
            [
                f"SKILLPAGER_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
                for err in exc.errors()
            ]
        ) from exc
