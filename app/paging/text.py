"""Message text for every channel: pure functions, no I/O.

SMS bodies stay within two segments: 306 GSM-7 septets, or 134 UTF-16 units once a single
character outside GSM-7 forces the whole message into UCS-2. When a message is too long the
summary is cut first; the reply instructions and the link always survive.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from app.core.alert import Severity
from app.paging.base import OutboundPage, PageKind

MAX_SEGMENTS = 2

_GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Characters of the GSM-7 extension table: sent as ESC + char, so they cost two septets.
_GSM7_EXTENSION = frozenset("\f^{}\\[]~|€")

# Typographic characters monitors love; each would switch a whole SMS to UCS-2 (67 per segment).
_GSM_FRIENDLY = str.maketrans(
    {
        "\u2013": "-",
        "\u2014": "-",
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2026": "...",
        "\u00a0": " ",
        "\t": " ",
        "\r": " ",
        "\n": " ",
    }
)

_SEVERITY_TAG = {Severity.CRITICAL: "CRIT", Severity.WARNING: "WARN", Severity.INFO: "INFO"}
_SEVERITY_EMOJI = {
    Severity.CRITICAL: ":red_circle:",
    Severity.WARNING: ":large_orange_circle:",
    Severity.INFO: ":large_blue_circle:",
}
_SLACK_HEADER_MAX = 150
_SLACK_TEXT_MAX = 3000

Block = dict[str, object]


@dataclass(frozen=True, slots=True)
class BundleItem:
    """One further incident listed in a bundle message."""

    incident_id: int
    system: str | None
    summary: str


def gsm7_length(text: str) -> int | None:
    """Septets `text` needs in GSM-7 (extension characters count two); None if not GSM-7."""
    total = 0
    for char in text:
        if char in _GSM7_BASIC:
            total += 1
        elif char in _GSM7_EXTENSION:
            total += 2
        else:
            return None
    return total


def segments(text: str) -> int:
    """Number of SMS segments `text` is sent as (GSM-7 160/153, UCS-2 70/67 per segment)."""
    if gsm7_length(text) is not None:
        sizes = [2 if char in _GSM7_EXTENSION else 1 for char in text]
        single, multi = 160, 153
    else:
        sizes = [2 if ord(char) > 0xFFFF else 1 for char in text]  # astral = surrogate pair
        single, multi = 70, 67
    if sum(sizes) <= single:
        return 1
    return _pack(sizes, multi)


def _pack(sizes: list[int], per_segment: int) -> int:
    # An escape pair or a surrogate pair is never split across two segments.
    count, used = 1, 0
    for size in sizes:
        if used + size > per_segment:
            count, used = count + 1, 0
        used += size
    return count


def fits(text: str) -> bool:
    """Whether `text` goes out in at most MAX_SEGMENTS segments."""
    return segments(text) <= MAX_SEGMENTS


def sms_text(
    *,
    incident_id: int,
    severity: Severity | None,
    customer: str | None,
    system: str | None,
    summary: str,
    why: str | None,
    link: str | None,
    reminder: bool = False,
) -> str:
    """Page SMS: `[CRIT #42] acme payments-db: lag 47s. You: postgres 5. Reply 42a ack, …`."""
    tag = _SEVERITY_TAG.get(severity, "ALERT") if severity else "ALERT"
    tag = f"REMINDER {tag}" if reminder else tag
    where = " ".join(_clean(part) for part in (customer, system) if part)
    head = f"[{tag} #{incident_id}]" + (f" {where}:" if where else "")
    tail = f"Reply {incident_id}a ack, {incident_id}e escalate." + (f" {link}" if link else "")
    why_part = f"You: {_sentence(_clean(why))}" if why else ""
    return _fit_two(head, _clean(summary), why_part, tail)


def resolved_text(
    *,
    incident_id: int,
    customer: str | None,
    system: str | None,
    summary: str,
    link: str | None,
    resolved_by: str | None = None,
) -> str:
    """Resolved note: `[RESOLVED #42] acme payments-db: lag 47s. By Anna Berg. https://…`."""
    where = " ".join(_clean(part) for part in (customer, system) if part)
    head = f"[RESOLVED #{incident_id}]" + (f" {where}:" if where else "")
    by = f"By {_sentence(_clean(resolved_by))}" if resolved_by else ""
    return _fit_two(head, _clean(summary), by, link or "")


def missed_text(
    *, incident_id: int, customer: str | None, system: str | None, line: str, link: str | None
) -> str:
    """An incident over before its held page went: `[RESOLVED #7] acme db: fired 03:12 and
    resolved 03:13. https://…`."""
    where = " ".join(_clean(part) for part in (customer, system) if part)
    head = f"[RESOLVED #{incident_id}]" + (f" {where}:" if where else "")
    return _fit_two(head, line, "", link or "")


def bundle_text(items: Sequence[BundleItem], *, link: str | None) -> str:
    """Bundle of further incidents: `3 more: #43 api: 5xx; #44 …. Reply aa to ack all. https://…`."""
    listed = "; ".join(
        f"#{item.incident_id} "
        + (f"{_clean(item.system)}: " if item.system else "")
        + _clean(item.summary).rstrip(".")
        for item in items
    )
    tail = "Reply aa to ack all." + (f" {link}" if link else "")
    return _fit_two(f"{len(items)} more:", listed, "", tail)


def contact_test_text(*, engineer_name: str, channel: str) -> str:
    """Test page confirming a contact works; asks for nothing."""
    return _fit_two(
        f"skillpager test page for {_clean(engineer_name)} via {channel}.",
        "",
        "",
        "No action needed.",
    )


def _clean(value: str | None) -> str:
    """One line, typographic punctuation folded to GSM-7 look-alikes."""
    return " ".join((value or "").translate(_GSM_FRIENDLY).split())


def _sentence(value: str) -> str:
    return value if not value or value[-1] in ".!?…" else value + "."


def _fit_two(head: str, summary: str, extra: str, tail: str) -> str:
    """Join the parts; cut the summary, then `extra`, then the head until two segments fit."""
    ellipsis = "..." if gsm7_length(" ".join((head, summary, extra, tail))) is not None else "…"

    def build(head_: str, summary_: str, extra_: str) -> str:
        parts = (head_, _sentence(summary_), extra_, tail)
        return " ".join(part for part in parts if part)

    text = build(head, summary, extra)
    if fits(text):
        return text
    summary = _longest(lambda s: build(head, s, extra), summary, ellipsis)
    if summary:
        return build(head, summary, extra)
    extra = _longest(lambda s: build(head, "", s), extra, ellipsis)
    if extra:
        return build(head, "", extra)
    head = _longest(lambda s: build(s, "", ""), head, ellipsis)
    text = build(head, "", "")
    while not fits(text):  # only a link longer than two segments gets here
        text = text[:-1]
    return text


def _longest(build: Callable[[str], str], value: str, ellipsis: str) -> str:
    """Longest cut of `value` (ending in `ellipsis`) for which `build` fits; "" if none does."""
    low, high = 0, len(value)  # invariant: keeping `low` characters fits
    while low < high:
        middle = (low + high + 1) // 2
        if fits(build(_shorten(value, middle, ellipsis))):
            low = middle
        else:
            high = middle - 1
    return _shorten(value, low, ellipsis)


def _shorten(value: str, keep: int, ellipsis: str) -> str:
    if keep >= len(value):
        return value
    if keep == 0:
        return ""
    return value[:keep].rstrip() + ellipsis


def slack_fallback(page: OutboundPage) -> str:
    """Notification text of a Slack message (what find_sent compares), escaped for Slack."""
    return slack_escape(_title(page))


def slack_blocks(page: OutboundPage) -> list[Block]:
    """Block Kit for a page: header, facts, summary, why-you line, runbook and action buttons."""
    emoji = _SEVERITY_EMOJI.get(page.severity, "") if page.severity else ""
    header = f"{emoji} {_title(page)}".strip()
    blocks: list[Block] = [
        {"type": "header", "text": _plain(_cut(header, _SLACK_HEADER_MAX))},
    ]
    facts = [
        (label, value)
        for label, value in (
            ("Severity", page.severity.value if page.severity else None),
            ("Customer", page.customer),
            ("System", page.system),
        )
        if value
    ]
    if facts:
        fields = [_mrkdwn(f"*{label}*\n{slack_escape(value)}") for label, value in facts]
        blocks.append({"type": "section", "fields": fields})
    if page.summary:
        blocks.append(
            {"type": "section", "text": _mrkdwn(_cut(slack_escape(page.summary), _SLACK_TEXT_MAX))}
        )
    if page.why:
        why = _cut(slack_escape(page.why), _SLACK_TEXT_MAX - 20)
        blocks.append({"type": "context", "elements": [_mrkdwn(f"*Why you:* {why}")]})
    buttons = _buttons(page)
    if buttons:
        block_id = f"incident:{page.incident_id}" if page.incident_id is not None else "links"
        blocks.append({"type": "actions", "block_id": block_id, "elements": buttons})
    return blocks


def slack_escape(text: str) -> str:
    """Escape the three characters Slack treats as markup in message text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _title(page: OutboundPage) -> str:
    if page.title:
        return page.title
    tag = _SEVERITY_TAG.get(page.severity, "ALERT") if page.severity else "ALERT"
    where = " ".join(part for part in (page.customer, page.system) if part)
    number = f" #{page.incident_id}" if page.incident_id is not None else ""
    return f"[{tag}{number}] {where}".strip()


def _buttons(page: OutboundPage) -> list[Block]:
    buttons: list[Block] = []
    if page.runbook_url:
        buttons.append(_button("runbook", "Runbook", url=page.runbook_url))
    if page.incident_url:
        buttons.append(_button("open", "Open", url=page.incident_url))
    if page.incident_id is not None and page.kind in (PageKind.PAGE, PageKind.REMINDER):
        value = str(page.incident_id)
        buttons.append(_button("ack", "Ack", value=value, style="primary"))
        buttons.append(_button("resolve", "Resolve", value=value))
        buttons.append(_button("escalate", "Escalate", value=value, style="danger"))
    return buttons


def _button(
    action_id: str,
    label: str,
    *,
    value: str | None = None,
    url: str | None = None,
    style: str | None = None,
) -> Block:
    button: Block = {"type": "button", "action_id": action_id, "text": _plain(label)}
    if value is not None:
        button["value"] = value
    if url is not None:
        button["url"] = url
    if style is not None:
        button["style"] = style
    return button


def _plain(text: str) -> Block:
    return {"type": "plain_text", "text": text, "emoji": True}


def _mrkdwn(text: str) -> Block:
    return {"type": "mrkdwn", "text": text}


def _cut(text: str, limit: int) -> str:
    """Cut to `limit` code points, marking the cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
