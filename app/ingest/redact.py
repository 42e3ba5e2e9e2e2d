"""Credentials are never stored: what a raw event keeps of a request's body.

A body is stored byte for byte, except the string value of a credential field at its top level,
which is replaced in place by the JSON string "REDACTED" (quotes included; every other byte
stays exact). "REDACTED" rather than "": PagerDuty requires a non-empty `routing_key`, so a
stored body still parses (`skillpager replay`).

- `pagerduty`: `routing_key` (it may be our webhook token).
- `cloudwatch` (SNS): `UnsubscribeURL` (anyone holding it can unsubscribe us), and a
  confirmation's `Token` and `SubscribeURL`. The signature is checked before the body is stored
  and stored bodies are never re-verified; none of these three is in a notification's signature.

Headers are kept from an allow-list (never Authorization or Cookie) and the query string (where
`?token=` goes) is not stored at all: see `app.api.webhooks.kept_headers`.
"""

import json
import re

PLACEHOLDER = '"REDACTED"'
CREDENTIAL_FIELDS: dict[str, frozenset[str]] = {
    "pagerduty": frozenset({"routing_key"}),
    "cloudwatch": frozenset({"UnsubscribeURL", "Token", "SubscribeURL"}),
}
_SPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


def stored_body(source: str, body: bytes) -> bytes:
    """The bytes to store for a request to `source`: `body` with its credentials blanked."""
    fields = CREDENTIAL_FIELDS.get(source)
    return redact_fields(body, fields) if fields else body


def redact_fields(body: bytes, fields: frozenset[str]) -> bytes:
    """`body` with the string values of top-level `fields` replaced by PLACEHOLDER.

    A body that is not one JSON object is returned as it is (it holds no field to blank). One
    that json.loads reads but this scanner cannot follow is stored re-serialised instead (its
    bytes change, its credentials are still blanked).
    """
    try:
        encoding = json.detect_encoding(body)
        text = body.decode(encoding)
        spans = _string_spans(text, fields)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return _reserialised(body, fields)
    if not spans:
        return body
    pieces, last = [], 0
    for start, end in spans:
        pieces += [text[last:start], PLACEHOLDER]
        last = end
    pieces.append(text[last:])
    # utf-8 (nearly every body) round-trips exactly; a BOM codec writes its BOM back.
    return "".join(pieces).encode(encoding)


def _string_spans(text: str, fields: frozenset[str]) -> list[tuple[int, int]]:
    """Where the string values of top-level `fields` are in `text` (one JSON object)."""
    index = _skip(text, 0)
    if text[index : index + 1] != "{":
        return []
    index = _skip(text, index + 1)
    spans: list[tuple[int, int]] = []
    if text[index : index + 1] == "}":
        return spans
    while True:
        if text[index : index + 1] != '"':
            raise ValueError("expected a key")
        key, index = _DECODER.raw_decode(text, index)
        index = _skip(text, index)
        if text[index : index + 1] != ":":
            raise ValueError("expected ':'")
        start = _skip(text, index + 1)
        value, index = _DECODER.raw_decode(text, start)
        if key in fields and isinstance(value, str):
            spans.append((start, index))
        index = _skip(text, index)
        if text[index : index + 1] == "}":
            return spans
        if text[index : index + 1] != ",":
            raise ValueError("expected ',' or '}'")
        index = _skip(text, index + 1)


def _skip(text: str, index: int) -> int:
    found = _SPACE.match(text, index)
    return found.end() if found else index


def _reserialised(body: bytes, fields: frozenset[str]) -> bytes:
    try:
        decoded = json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return body  # not JSON: no field to blank
    if not isinstance(decoded, dict):
        return body
    blanked = {
        key: json.loads(PLACEHOLDER) if key in fields and isinstance(value, str) else value
        for key, value in decoded.items()
    }
    return json.dumps(blanked, ensure_ascii=False).encode()
