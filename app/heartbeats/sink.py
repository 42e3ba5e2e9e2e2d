"""Where synthetic alerts go: the writer, like every other alert."""

import json
from typing import Protocol

from app.core.alert import ParsedAlert
from app.ingest.writer import Submission, WriteResult


class AlertSink(Protocol):
    """Anything that stores a submission and says what it became (the Writer does)."""

    async def submit(self, submission: Submission) -> WriteResult: ...


async def submit_alert(sink: AlertSink, alert: ParsedAlert, event: dict[str, str]) -> None:
    """Store one synthetic alert; `event` is kept as its raw event's body, for the audit."""
    body = json.dumps(event, sort_keys=True).encode()
    await sink.submit(Submission(alert.source, body, {}, [alert]))
