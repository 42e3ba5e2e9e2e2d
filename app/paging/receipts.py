"""Provider callbacks act once: a replayed Slack action or Twilio SMS / key press is answered
as the first one was and changes nothing.

A signature proves who sent a request, not that it is new: Slack's is valid for 5 minutes,
Twilio's forever. Each callback's own id (Slack `trigger_id`, Twilio `MessageSid`, `CallSid`
with the digits) is recorded in the transaction that acts on it, so two copies can never both
act, even arriving at once on two replicas (the second waits on the key, then finds it).
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from fastapi.responses import Response
from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from app.store.tables import Base
from app.store.upsert import insert_ignore

_receipts = Base.metadata.tables["inbound_receipts"]
_KEY_MAX = 200


@dataclass(frozen=True, slots=True)
class Answer:
    """An HTTP answer to a callback, as stored for its replays."""

    body: str = ""
    media_type: str | None = None
    status: int = 200

    def response(self) -> Response:
        """The answer as a response."""
        return Response(self.body, status_code=self.status, media_type=self.media_type)


@dataclass(frozen=True, slots=True)
class Once:
    """What `act_once` did: the answer, and whether this request was a replay."""

    answer: Answer
    replayed: bool


def act_once(
    conn: Connection,
    *,
    kind: str,
    key: str | None,
    now: datetime,
    act: Callable[[Connection], Answer],
) -> Once:
    """Run `act` unless this callback (`kind`, `key`) was acted on before; then its answer.

    Without a key (the provider sent no id) the callback simply acts.
    """
    if not key:
        return Once(act(conn), replayed=False)
    ids = {"kind": kind, "key": key[:_KEY_MAX]}
    if not insert_ignore(conn, _receipts, [{**ids, "received_at": now, "answer": None}]):
        stored = conn.execute(
            select(_receipts.c.answer).where(
                _receipts.c.kind == ids["kind"], _receipts.c.key == ids["key"]
            )
        ).scalar_one_or_none()
        return Once(_answer_of(stored), replayed=True)
    answer = act(conn)
    conn.execute(
        update(_receipts)
        .where(_receipts.c.kind == ids["kind"], _receipts.c.key == ids["key"])
        .values(
            answer={"body": answer.body, "media_type": answer.media_type, "status": answer.status}
        )
    )
    return Once(answer, replayed=False)


def _answer_of(stored: object) -> Answer:
    if not isinstance(stored, dict):
        return Answer()
    media_type = stored.get("media_type")
    return Answer(
        body=str(stored.get("body") or ""),
        media_type=media_type if isinstance(media_type, str) else None,
        status=int(stored.get("status") or 200),
    )
