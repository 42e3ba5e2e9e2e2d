"""Why each engineer was (or was not) chosen, as short texts a page or the CLI can show."""

from dataclasses import dataclass
from datetime import date, datetime, tzinfo

from pydantic import ConfigDict, with_config

from app.routing.ranking import Candidate, Ranking
from app.routing.rules import Rules
from app.routing.timespec import local_label

AWAY = "away until "  # reason_for picks these notes out by this prefix
_LEAD_STEP = "lead: last step of the ladder"


@with_config(ConfigDict(extra="forbid"))
@dataclass(frozen=True, slots=True)
class Reason:
    """One engineer considered (or a note, engineer None), whether chosen, and why.

    A plain dataclass, not a pydantic model: several are built per decision, and pydantic still
    validates it (extra keys rejected) when a stored Decision is read back.
    """

    engineer: str | None
    chosen: bool
    text: str


@dataclass(frozen=True, slots=True)
class Context:
    """What the texts mention besides the ranking itself."""

    rules: Rules
    system: str | None
    now: datetime


def explain(ranking: Ranking, chosen: set[str], context: Context) -> list[Reason]:
    """One reason per candidate considered, in ranking order, then those left out."""
    # Candidates share one wall clock per time zone: format each zone's local time once.
    labels: dict[tzinfo | None, str] = {}
    reasons = [
        Reason(c.engineer, c.engineer in chosen, _text(c, ranking, context.system, labels))
        for c in ranking.ordered
    ]
    reasons += [Reason(c.engineer, False, f"{AWAY}{_until(c.away_until)}") for c in ranking.away]
    reasons += [
        Reason(c.engineer, False, f"level {c.best} < min_level {ranking.min_level}")
        for c in ranking.below
    ]
    return _with_lead(reasons, context.rules.lead, chosen)


def _with_lead(reasons: list[Reason], lead: str, chosen: set[str]) -> list[Reason]:
    """The lead step pages the lead whatever the ranking said: mark that on the lead's reason."""
    if lead not in chosen or any(r.engineer == lead and r.chosen for r in reasons):
        return reasons
    for index, reason in enumerate(reasons):
        if reason.engineer == lead:
            reasons[index] = Reason(lead, True, f"{reason.text}; {_LEAD_STEP}")
            return reasons
    return [*reasons, Reason(lead, True, _LEAD_STEP)]


def _text(
    candidate: Candidate, ranking: Ranking, system: str | None, labels: dict[tzinfo | None, str]
) -> str:
    if system is None:
        base = "lead: no system matched"
    elif candidate.expert:
        base = f"named expert for {system}"
    else:
        base = candidate.skills
        if ranking.fallback and candidate.best < ranking.min_level:
            base += f" (fallback: nobody at level ≥ {ranking.min_level} available)"
    if candidate.load:
        plural = "s" if candidate.load != 1 else ""
        base += f"; {candidate.load} open incident{plural}"
    if not candidate.in_hours:
        zone = candidate.local.tzinfo
        label = labels.get(zone)
        if label is None:
            label = labels[zone] = local_label(candidate.local)
        base += f"; outside working hours ({label})"
    return base


def _until(moment: date | None) -> str:
    # A run-time absence ends at a local time; one from the YAML on a (last) day.
    return f"{moment:%Y-%m-%d %H:%M}" if isinstance(moment, datetime) else str(moment)
