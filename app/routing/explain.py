"""Why each engineer was (or was not) chosen, as short texts a page or the CLI can show."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from app.routing.ranking import Candidate, Ranking
from app.routing.rules import Rules
from app.routing.timespec import local_label

AWAY = "away until "  # reason_for picks these notes out by this prefix
_LEAD_STEP = "lead: last step of the ladder"


class Reason(BaseModel):
    """One engineer considered (or a note, engineer None), whether chosen, and why.

    Built with model_construct on the hot path: the values are typed by construction.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

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
    reasons = [
        Reason.model_construct(
            engineer=c.engineer, chosen=c.engineer in chosen, text=_text(c, ranking, context)
        )
        for c in ranking.ordered
    ]
    reasons += [_left_out(c, f"{AWAY}{c.away_until}") for c in ranking.away]
    reasons += [
        _left_out(c, f"level {c.best} < min_level {ranking.min_level}") for c in ranking.below
    ]
    return _with_lead(reasons, context.rules.lead, chosen)


def _left_out(candidate: Candidate, text: str) -> Reason:
    return Reason.model_construct(engineer=candidate.engineer, chosen=False, text=text)


def _with_lead(reasons: list[Reason], lead: str, chosen: set[str]) -> list[Reason]:
    """The lead step pages the lead whatever the ranking said: mark that on the lead's reason."""
    if lead not in chosen or any(r.engineer == lead and r.chosen for r in reasons):
        return reasons
    for index, reason in enumerate(reasons):
        if reason.engineer == lead:
            reasons[index] = Reason.model_construct(
                engineer=lead, chosen=True, text=f"{reason.text}; {_LEAD_STEP}"
            )
            return reasons
    return [*reasons, Reason.model_construct(engineer=lead, chosen=True, text=_LEAD_STEP)]


def _text(candidate: Candidate, ranking: Ranking, context: Context) -> str:
    if context.system is None:
        base = "lead: no system matched"
    elif candidate.expert:
        base = f"named expert for {context.system}"
    else:
        base = skill_text(candidate.levels)
        if ranking.fallback and candidate.best < ranking.min_level:
            base += f" (fallback: nobody at level ≥ {ranking.min_level} available)"
    if candidate.load:
        plural = "s" if candidate.load != 1 else ""
        base += f"; {candidate.load} open incident{plural}"
    if not candidate.in_hours:
        base += f"; outside working hours ({local_label(candidate.local)})"
    return base


def skill_text(levels: Iterable[tuple[str, int]]) -> str:
    """'postgres 5 + payments 4 = 9', or 'postgres 5' for a single skill."""
    pairs = list(levels)
    parts = " + ".join(f"{skill} {level}" for skill, level in pairs)
    return parts if len(pairs) == 1 else f"{parts} = {sum(level for _, level in pairs)}"
