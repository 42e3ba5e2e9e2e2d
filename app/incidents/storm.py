"""Storm control: what arrives for each incident, and a storm when it is more than `storm` a
minute.

Grouping already keeps a storm to one incident and one page round; this keeps its figures
(`StormFigures`: events received, distinct alert keys, the newest five summaries, the rate of the
current minute and the peak). The next page to the incident's owner says so once.
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from app.incidents.model import StormFigures
from app.store.alert_rows import AlertRow

_MINUTE = timedelta(seconds=60)
_RECENT = 5


@dataclass(slots=True)
class Arrivals:
    """One incident's share of a batch."""

    events: int = 0
    summaries: list[str] = field(default_factory=list)
    keys: set[tuple[str, str]] = field(default_factory=set)  # newly firing keys


def arrivals_of(rows: Sequence[AlertRow]) -> dict[int, Arrivals]:
    """Each incident's share of a batch (one entry of `rows` per event)."""
    arrivals: dict[int, Arrivals] = defaultdict(Arrivals)
    for row in rows:
        if row.incident_id is None:
            continue
        share = arrivals[row.incident_id]
        share.events += 1
        share.summaries.append(row.summary)
        if row.newly_firing:
            share.keys.add((row.source, row.dedup_key))
    return arrivals


def counted(figures: StormFigures, share: Arrivals, now: datetime, storm: int) -> StormFigures:
    """The figures with a batch's share added; a storm once a minute holds more than `storm`."""
    started = figures.rate_start
    if started is None or now - started >= _MINUTE:
        rate_start, rate_count = now, share.events
    else:
        rate_start, rate_count = started, figures.rate_count + share.events
    peak = max(figures.peak_rate, rate_count) if rate_count > storm else figures.peak_rate
    return replace(
        figures,
        events=figures.events + share.events,
        keys=figures.keys + len(share.keys),
        recent=_newest(figures.recent, share.summaries),
        rate_start=rate_start,
        rate_count=rate_count,
        peak_rate=peak,
    )


def _newest(recent: Sequence[str], arrived: list[str]) -> tuple[str, ...]:
    """The newest distinct summaries, newest first."""
    newest: list[str] = []
    for summary in [*reversed(arrived), *recent]:
        if summary not in newest:
            newest.append(summary)
        if len(newest) == _RECENT:
            break
    return tuple(newest)
