"""History numbers: percentiles and who gets woken, as pure functions."""

from datetime import UTC, datetime

from app.clock import SystemClock
from app.routing.holder import RulesHolder
from app.web.stats import page_split, percentile
from tests.support.app import BASIC_RULES
from tests.support.server import EXAMPLE_RULES


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 11)]
    assert (percentile(values, 0.5), percentile(values, 0.9), percentile([], 0.5)) == (
        5.0,
        9.0,
        None,
    )


def test_pages_split_into_working_off_hours_and_night() -> None:
    rules = RulesHolder(EXAMPLE_RULES, clock=SystemClock()).rules
    # bo: Europe/Stockholm, Mon-Fri 07:00-16:00. 2026-11-25 is a Wednesday (UTC+1).
    pages = [
        ("bo", datetime(2026, 11, 25, 9, 0, tzinfo=UTC)),  # 10:00 local: working
        ("bo", datetime(2026, 11, 25, 17, 0, tzinfo=UTC)),  # 18:00 local: off hours
        ("bo", datetime(2026, 11, 25, 2, 0, tzinfo=UTC)),  # 03:00 local: night
        ("bo", datetime(2026, 11, 25, 21, 30, tzinfo=UTC)),  # 22:30 local: night
    ]
    [bo] = page_split(rules, pages)
    assert (bo.working, bo.off_hours, bo.night) == (1, 1, 2)
    assert BASIC_RULES.exists()
