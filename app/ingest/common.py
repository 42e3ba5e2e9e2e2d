"""Typed access to decoded JSON for the source parsers: every error names its field path."""

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from app.ingest.base import ParseError, SchemaError, load_json, parse_timestamp


class Rejected(Exception):
    """A request failed its source's own authentication (signature, cert, topic): HTTP 403."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def scalar_text(value: object, path: str) -> str:
    """Render a JSON scalar as label text; objects and lists are a SchemaError."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    raise SchemaError(path, f"expected a string, got {type(value).__name__}")


def _loose_text(value: object, path: str) -> str:
    if not isinstance(value, list | dict):
        return scalar_text(value, path)
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    except RecursionError:
        raise SchemaError(path, "nested too deeply") from None


def non_empty(value: str | None) -> str | None:
    """Turn an empty (or blank) string into None: senders use "" for "no value"."""
    return value if value is not None and value.strip() else None


def http_url(value: str | None) -> str | None:
    """Keep a link only if it is an absolute http(s) URL, so no `javascript:` reaches a page."""
    value = non_empty(value)
    if value is None:
        return None
    try:
        scheme = urlsplit(value.strip()).scheme.lower()
    except ValueError:
        return None
    return value.strip() if scheme in ("http", "https") else None


@dataclass(frozen=True, slots=True)
class Node:
    """A decoded JSON object together with its field path, for precise SchemaErrors."""

    value: Mapping[str, object]
    path: str = ""

    def has(self, key: str) -> bool:
        """Say whether `key` is present and not null."""
        return self.value.get(key) is not None

    def opt_obj(self, key: str) -> "Node | None":
        """The object at `key`, or None when absent or null."""
        raw = self.value.get(key)
        if raw is None:
            return None
        return as_node(raw, _join(self.path, key))

    def obj(self, key: str) -> "Node":
        """The object at `key`; absent or null is a SchemaError."""
        found = self.opt_obj(key)
        if found is None:
            raise SchemaError(_join(self.path, key), "required")
        return found

    def text(self, key: str) -> str | None:
        """The scalar at `key` as text, or None when absent or null."""
        raw = self.value.get(key)
        return None if raw is None else scalar_text(raw, _join(self.path, key))

    def req_text(self, key: str) -> str:
        """The scalar at `key` as non-empty text; absent, null or blank is a SchemaError."""
        found = non_empty(self.text(key))
        if found is None:
            raise SchemaError(_join(self.path, key), "required")
        return found

    def items(self, key: str) -> list[object]:
        """The list at `key` ([] when absent or null)."""
        raw = self.value.get(key)
        if raw is None:
            return []
        if not isinstance(raw, list):
            raise SchemaError(_join(self.path, key), "expected a list")
        return raw

    def objects(self, key: str) -> Iterator["Node"]:
        """The objects of the list at `key`, each with its indexed path."""
        for index, raw in enumerate(self.items(key)):
            yield as_node(raw, f"{_join(self.path, key)}[{index}]")

    def labels(self, key: str) -> dict[str, str]:
        """The string map at `key` ({} when absent); null values are dropped."""
        node = self.opt_obj(key)
        if node is None:
            return {}
        return {
            name: scalar_text(raw, _join(node.path, name))
            for name, raw in node.value.items()
            if raw is not None
        }

    def loose_labels(self, key: str) -> dict[str, str]:
        """Like labels, but lists and objects become compact JSON text instead of an error."""
        node = self.opt_obj(key)
        if node is None:
            return {}
        return {
            name: _loose_text(raw, _join(node.path, name))
            for name, raw in node.value.items()
            if raw is not None
        }

    def time(self, key: str) -> datetime | None:
        """The timestamp at `key` as aware UTC, or None when absent, empty or zero."""
        return timestamp(self.value.get(key), _join(self.path, key))


def as_node(value: object, path: str) -> Node:
    """Wrap a decoded value that must be a JSON object."""
    if not isinstance(value, dict):
        raise SchemaError(path or "body", "expected a JSON object")
    return Node(value, path)


def load_object(body: bytes) -> Node:
    """Decode a body that must be one JSON object (ParseError if not JSON at all)."""
    try:
        decoded = load_json(body)
    except ParseError:
        raise
    except ValueError as exc:
        # load_json lets int() limits through (a number of over 4,300 digits): still a 400.
        raise ParseError(f"malformed JSON: {exc}") from exc
    return as_node(decoded, "")


def timestamp(value: object, path: str) -> datetime | None:
    """parse_timestamp, with 0 meaning "unset" and every failure a SchemaError."""
    if value == 0 or value == "0":
        return None
    try:
        return parse_timestamp(value, path)
    except SchemaError:
        raise
    except (ValueError, OverflowError) as exc:
        # parse_timestamp lets float() see odd digit strings such as "²", and huge ints
        # overflow float(): keep both a 422.
        raise SchemaError(path, "not a timestamp") from exc
