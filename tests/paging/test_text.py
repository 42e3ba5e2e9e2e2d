"""Message text: GSM-7 accounting, two-segment SMS, cutting rules, Slack blocks."""

import pytest

from app.core.alert import Severity
from app.paging.base import PageKind
from app.paging.text import (
    BundleItem,
    bundle_text,
    contact_test_text,
    gsm7_length,
    resolved_text,
    segments,
    slack_blocks,
    sms_text,
)
from tests.paging.factories import make_page

LINK = "https://host/i/42"
TAIL = "Reply 42a ack, 42e escalate. https://host/i/42"


def _page_sms(summary: str, why: str | None = "postgres 5") -> str:
    return sms_text(
        incident_id=42,
        severity=Severity.CRITICAL,
        customer="acme",
        system="payments-db",
        summary=summary,
        why=why,
        link=LINK,
    )


def _utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hello", 5),
        ("@£$¥èé", 6),
        ("€", 2),
        ("[]{}^~\\|", 16),
        ("price 5€", 9),
        ("ê", None),
        ("a \u2013 b", None),
        ("ok 😀", None),
        ("", 0),
    ],
)
def test_gsm7_length(text: str, expected: int | None) -> None:
    assert gsm7_length(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("x" * 160, 1),
        ("x" * 161, 2),
        ("x" * 306, 2),
        ("x" * 307, 3),
        ("€" * 80, 1),
        ("€" * 81, 2),
        # 306 septets, but the escape pair cannot straddle two segments.
        ("x" * 152 + "€" + "x" * 152, 3),
        ("ж" * 70, 1),
        ("ж" * 71, 2),
        ("ж" * 134, 2),
        ("ж" * 135, 3),
        ("😀" * 35, 1),
        # 134 UTF-16 units, but the surrogate pair cannot straddle two segments.
        ("ж" * 66 + "😀" + "ж" * 66, 3),
    ],
)
def test_segments(text: str, expected: int) -> None:
    assert segments(text) == expected


def test_page_sms_reads_as_documented() -> None:
    text = _page_sms("replica lag 47s")

    assert text == f"[CRIT #42] acme payments-db: replica lag 47s. You: postgres 5. {TAIL}"
    assert segments(text) == 1


def test_long_gsm_summary_is_cut_to_exactly_two_segments() -> None:
    text = _page_sms("replica lag grows on every replica " * 20)

    assert segments(text) == 2
    assert gsm7_length(text) in (305, 306)  # as long as fits (brackets cost two septets each)
    assert text.startswith("[CRIT #42] acme payments-db: replica lag grows")
    assert "... You: postgres 5. " in text
    assert text.endswith(TAIL)


def test_extension_characters_count_double_when_cutting() -> None:
    text = _page_sms("{json} " * 100)

    assert segments(text) == 2
    septets = gsm7_length(text)
    assert septets is not None
    assert 300 <= septets <= 306  # a 2-septet "{" cannot always use the last free septet
    assert len(text) < 280
    assert text.endswith(TAIL)


def test_unicode_summary_goes_ucs2_and_is_cut_to_134_units() -> None:
    text = _page_sms("Задержка репликации растёт на всех репликах базы платежей")

    assert gsm7_length(text) is None
    assert segments(text) == 2
    assert _utf16_units(text) <= 134
    assert text.startswith("[CRIT #42] acme payments-db: Задержка")
    assert "… You: postgres 5. " in text
    assert text.endswith(TAIL)


def test_short_unicode_summary_is_kept_whole() -> None:
    text = _page_sms("диск 95%", why=None)

    assert text == f"[CRIT #42] acme payments-db: диск 95%. {TAIL}"
    assert segments(text) == 2  # 86 UCS-2 units


def test_emoji_summary_never_splits_a_surrogate_pair() -> None:
    text = _page_sms("🔥" * 100)

    assert segments(text) == 2
    assert "\ud83d" not in text.replace("🔥", "")
    assert text.endswith(TAIL)


def test_typographic_punctuation_is_folded_to_gsm7() -> None:
    text = _page_sms("lag \u2013 47s \u201chigh\u201d\u2026\nsee runbook")

    assert gsm7_length(text) is not None
    assert 'lag - 47s "high"... see runbook.' in text


def test_huge_why_is_cut_after_the_summary_is_gone() -> None:
    text = _page_sms("lag " * 100, why="postgres 5; " * 100)

    assert segments(text) == 2
    assert "You: postgres 5;" in text
    assert text.endswith(TAIL)


def test_reminder_and_missing_fields() -> None:
    text = sms_text(
        incident_id=7,
        severity=None,
        customer=None,
        system=None,
        summary="disk full",
        why=None,
        link=None,
        reminder=True,
    )

    assert text == "[REMINDER ALERT #7] disk full. Reply 7a ack, 7e escalate."


def test_resolved_note() -> None:
    text = resolved_text(
        incident_id=42,
        customer="acme",
        system="payments-db",
        summary="replica lag 47s",
        link=LINK,
        resolved_by="Anna Berg",
    )

    assert (
        text == "[RESOLVED #42] acme payments-db: replica lag 47s. By Anna Berg. https://host/i/42"
    )


def test_bundle_lists_incidents_and_ack_all() -> None:
    items = [
        BundleItem(43, "api-gw", "5xx rate 12%"),
        BundleItem(44, None, "disk full."),
        BundleItem(45, "web", "down"),
    ]

    text = bundle_text(items, link="https://host/")

    assert text == (
        "3 more: #43 api-gw: 5xx rate 12%; #44 disk full; #45 web: down. "
        "Reply aa to ack all. https://host/"
    )


def test_long_bundle_is_cut_but_keeps_ack_all() -> None:
    items = [BundleItem(n, "system-with-a-long-name", "something broke badly") for n in range(30)]

    text = bundle_text(items, link="https://host/")

    assert text.startswith("30 more: #0 system-with-a-long-name")
    assert segments(text) == 2
    assert text.endswith("... Reply aa to ack all. https://host/")


def test_test_page_text() -> None:
    assert contact_test_text(engineer_name="Anna Berg", channel="sms") == (
        "skillpager test page for Anna Berg via sms. No action needed."
    )


def test_slack_header_is_cut_to_150_code_points() -> None:
    blocks = slack_blocks(make_page(title="x" * 400))

    header = blocks[0]["text"]
    assert isinstance(header, dict)
    assert len(header["text"]) == 150
    assert header["text"].endswith("…")


def test_slack_test_page_has_no_buttons_and_escapes_markup() -> None:
    page = make_page(
        kind=PageKind.TEST,
        incident_id=None,
        severity=None,
        customer=None,
        system=None,
        summary="a <b> & c",
        why=None,
        runbook_url=None,
        incident_url=None,
        title="Test page",
    )

    blocks = slack_blocks(page)

    assert blocks == [
        {"type": "header", "text": {"type": "plain_text", "text": "Test page", "emoji": True}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "a &lt;b&gt; &amp; c"}},
    ]
