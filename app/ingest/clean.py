"""Text every store can keep: NUL and lone surrogates become U+FFFD, and the alert says so.

JSON may carry `\\u0000` and unpaired surrogate escapes (`\\ud800`); PostgreSQL refuses NUL in
text and JSON, and a lone surrogate cannot be encoded as UTF-8 at all. Cleaning them when a
request is parsed, the same way on every database, keeps one such alert from failing the
transaction it shares with other requests (the writer's group commit).
"""

import re
from collections.abc import Mapping
from dataclasses import replace

from app.core.alert import ParsedAlert

REPLACEMENT = "\ufffd"
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_NOTE_MAX = 200  # alerts.severity_note


def storable(text: str) -> str:
    """`text` with NUL and lone surrogates replaced by U+FFFD (the same object if clean)."""
    if text.isascii() and "\x00" not in text:
        return text  # the common case, without a regex scan
    if _UNSTORABLE.search(text) is None:
        return text
    return _UNSTORABLE.sub(REPLACEMENT, text)


def surrogates_as_nul(value: object) -> object:
    """A decoded JSON value with unpaired surrogates (keys too) turned into NUL.

    pydantic cannot read a string holding one; NUL it reads, and `clean_alert` then replaces
    it (and says so in the alert's note) like any NUL, so both end up as U+FFFD.
    """
    if isinstance(value, str):
        return _SURROGATE.sub("\x00", value) if not value.isascii() else value
    if isinstance(value, list):
        return [surrogates_as_nul(item) for item in value]
    if isinstance(value, dict):
        return {surrogates_as_nul(key): surrogates_as_nul(item) for key, item in value.items()}
    return value


def clean_alert(alert: ParsedAlert) -> ParsedAlert:
    """The alert with storable text everywhere; its note names the fields that were cleaned."""
    if _all_storable(alert):
        return alert
    summary = storable(alert.summary)
    dedup_key = storable(alert.dedup_key)
    labels = _clean_map(alert.labels)
    source_url = _opt(alert.source_url)
    runbook_url = _opt(alert.runbook_url)
    changed = [
        name
        for name, before, after in (
            ("summary", alert.summary, summary),
            ("dedup key", alert.dedup_key, dedup_key),
            ("labels", alert.labels, labels),
            ("source url", alert.source_url, source_url),
            ("runbook url", alert.runbook_url, runbook_url),
        )
        if before is not after
    ]
    if not changed:
        return alert
    said = f"NUL or unpaired surrogate characters replaced by U+FFFD in {', '.join(changed)}"
    note = f"{_opt(alert.severity_note)}; {said}" if alert.severity_note else said
    return replace(
        alert,
        summary=summary,
        dedup_key=dedup_key,
        labels=labels,
        source_url=source_url,
        runbook_url=runbook_url,
        severity_note=note[:_NOTE_MAX],
    )


def _all_storable(alert: ParsedAlert) -> bool:
    """One scan over all of an alert's text: the common case costs about a microsecond."""
    joined = "".join(
        (
            alert.summary,
            alert.dedup_key,
            *alert.labels.keys(),
            *alert.labels.values(),
            alert.source_url or "",
            alert.runbook_url or "",
        )
    )
    if "\x00" in joined:
        return False
    return joined.isascii() or _UNSTORABLE.search(joined) is None


def clean_headers(headers: dict[str, str]) -> dict[str, str]:
    """Stored request headers with storable text (the same object if clean)."""
    cleaned = _clean_map(headers)
    return dict(cleaned) if cleaned is not headers else headers


def _clean_map(values: Mapping[str, str]) -> Mapping[str, str]:
    # Scanned first, copied only when something must change: every alert comes through here.
    if all(storable(k) is k and storable(v) is v for k, v in values.items()):
        return values
    return {storable(k): storable(v) for k, v in values.items()}


def _opt(text: str | None) -> str | None:
    return None if text is None else storable(text)
