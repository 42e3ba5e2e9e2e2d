"""Voice pages: the TwiML a page call speaks, and what the keys pressed mean. Pure.

The call's TwiML is sent inline with the call (`TwilioVoice`). Its `<Gather>` posts the
pressed key to `{public_url}/twilio/voice?incident=42&page=7`: 4 acknowledges, 5 escalates,
6 resolves; any other key gets the menu again.

Only a key press acknowledges. When nobody presses a key — no answer, busy, a failed call, an
answering machine or voicemail picking up, or a person hanging up — the Gather times out
without calling its action (Twilio skips the action on an empty result), the call ends, and
the status callback reports `no-answer`, `busy`, `failed`, `canceled` or `completed` without
any digits: the page stays unacknowledged and escalation moves on at `ack_timeout`.
"""

import re
from enum import StrEnum
from urllib.parse import urlencode

from app.core.incident import ActionKind
from app.paging.twiml import Element, document, verb


class CallOutcome(StrEnum):
    """What a call status callback tells the escalation (never an acknowledgement)."""

    IN_PROGRESS = "in_progress"  # queued, initiated, ringing, in-progress: wait
    NOT_REACHED = "not_reached"  # busy, no-answer, failed, canceled: nobody heard it
    ENDED = "ended"  # completed: answered (maybe by a machine); acked only via a key press


DIGITS = {"4": ActionKind.ACK, "5": ActionKind.ESCALATE, "6": ActionKind.RESOLVE}
MENU = "Press 4 to acknowledge, 5 to escalate, 6 to resolve."
GATHER_TIMEOUT_SECONDS = 10
# Text-to-speech reads about 150 words a minute; 300 characters is ~20 s of summary.
MAX_SPOKEN_SUMMARY = 300

_CONFIRMATIONS = {
    ActionKind.ACK: "Acknowledged. Goodbye.",
    ActionKind.ESCALATE: "Escalated to the next engineer. Goodbye.",
    ActionKind.RESOLVE: "Resolved. Goodbye.",
}
_NOT_REACHED = frozenset({"busy", "no-answer", "failed", "canceled"})
_URL = re.compile(r"https?://\S+", re.IGNORECASE)


def gather_url(public_url: str, *, incident_id: int, page_id: int) -> str:
    """Where the Gather posts the key: `{public_url}/twilio/voice?incident=42&page=7`."""
    query = urlencode({"incident": incident_id, "page": page_id})
    return f"{public_url.rstrip('/')}/twilio/voice?{query}"


def page_call_twiml(*, public_url: str, incident_id: int, page_id: int, summary: str) -> str:
    """TwiML for a page call: the summary and the menu inside a Gather, then a goodbye."""
    intro = f"This is skillpager with incident {incident_id}."
    spoken = spoken_summary(summary)
    prompt = " ".join(part for part in (intro, spoken, MENU) if part)
    return document(
        _gather(prompt, public_url=public_url, incident_id=incident_id, page_id=page_id),
        verb("Say", "No input received. Goodbye."),
    )


def reprompt_twiml(*, public_url: str, incident_id: int, page_id: int) -> str:
    """TwiML answering an unknown key: say so and offer the menu again."""
    prompt = f"Sorry, that key does nothing. {MENU}"
    return document(
        _gather(prompt, public_url=public_url, incident_id=incident_id, page_id=page_id),
        verb("Say", "No input received. Goodbye."),
    )


def confirmation_twiml(action: ActionKind) -> str:
    """TwiML confirming a carried-out action (`Acknowledged. Goodbye.`), then hanging up."""
    return say_and_hang_up(_CONFIRMATIONS[action])


def say_and_hang_up(text: str) -> str:
    """TwiML speaking `text` (e.g. "Incident 42 is already resolved.") and ending the call."""
    return document(verb("Say", _speakable(text)), verb("Hangup"))


def voice_action(digits: str | None) -> ActionKind | None:
    """The action for the Gather's `Digits`; None for anything else (then re-prompt)."""
    return DIGITS.get((digits or "").strip())


def call_outcome(call_status: str) -> CallOutcome:
    """Classify a voice status callback's `CallStatus`; unknown values count as in progress."""
    status = call_status.strip().lower()
    if status in _NOT_REACHED:
        return CallOutcome.NOT_REACHED
    if status == "completed":
        return CallOutcome.ENDED
    return CallOutcome.IN_PROGRESS


def spoken_summary(summary: str) -> str:
    """The summary as speech: links dropped, one line, cut at a word to MAX_SPOKEN_SUMMARY."""
    text = _speakable(_URL.sub("", summary))
    if len(text) <= MAX_SPOKEN_SUMMARY:
        return _sentence(text)
    cut = text[:MAX_SPOKEN_SUMMARY].rsplit(" ", 1)[0].rstrip(",;:-")
    return _sentence(cut)


def _gather(prompt: str, *, public_url: str, incident_id: int, page_id: int) -> Element:
    gather = verb(
        "Gather",
        numDigits="1",
        action=gather_url(public_url, incident_id=incident_id, page_id=page_id),
        method="POST",
        timeout=str(GATHER_TIMEOUT_SECONDS),
    )
    gather.append(verb("Say", prompt))
    return gather


def _speakable(text: str) -> str:
    # One line: newlines and tabs would only become odd pauses in text-to-speech.
    return " ".join(text.split())


def _sentence(text: str) -> str:
    return text if not text or text[-1] in ".!?" else text + "."
