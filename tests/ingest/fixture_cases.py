"""Load `<case>.json` bodies with their `<case>.expected.json` results from tests/fixtures."""

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from app.core.alert import ParsedAlert

FIXTURES = Path(__file__).parent.parent / "fixtures"


def cases(source: str, *, rejects: bool) -> list[Path]:
    """Body files of a source: the accepted cases, or the `reject_*` ones."""
    bodies = sorted(p for p in (FIXTURES / source).glob("*.json") if ".expected" not in p.name)
    return [p for p in bodies if p.name.startswith("reject_") == rejects]


def expected(body_file: Path) -> dict[str, Any]:
    """The expected result stored beside a body file."""
    result: dict[str, Any] = json.loads(body_file.with_suffix(".expected.json").read_text())
    return result


def as_json(alert: ParsedAlert) -> dict[str, Any]:
    """A parsed alert in the fixtures' JSON form (`expires_at` only when set: only postable
    alerts, read as of a time, have one)."""
    data = asdict(alert)
    data["labels"] = dict(alert.labels)
    if data["expires_at"] is None:
        del data["expires_at"]
    for name in ("started_at", "ended_at", "expires_at"):
        if name in data:
            data[name] = data[name].isoformat() if data[name] else None
    return {k: (v.value if hasattr(v, "value") else v) for k, v in data.items()}
