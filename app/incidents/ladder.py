"""The ladder as a pure function: which engineers a position pages, and what comes next.

A decision's `steps` are the non-empty steps of one round. The ladder runs them, then runs them
again `repeat` more times (rounds 0..repeat), then pages the lead every `exhausted_every`
(rounds past `repeat`, one lead page each) until someone acts.
"""

from dataclasses import dataclass

from app.routing.decision import Decision


@dataclass(frozen=True, slots=True)
class Ladder:
    """The part of a stored decision the ladder needs."""

    steps: tuple[tuple[str, ...], ...]
    repeat: int
    lead: str
    ack_timeout_s: int
    exhausted_every_s: int

    @classmethod
    def from_decision(cls, decision: Decision) -> "Ladder":
        """The ladder of an incident's decision."""
        return cls(
            steps=tuple(step.engineers for step in decision.steps if step.engineers),
            repeat=decision.repeat,
            lead=decision.lead,
            ack_timeout_s=decision.ack_timeout_s,
            exhausted_every_s=decision.exhausted_every_s,
        )


@dataclass(frozen=True, slots=True)
class StepPlan:
    """What to page at a position, and where the ladder stands afterwards."""

    engineers: tuple[str, ...]
    step: int
    round: int
    exhausted: bool  # this page is one of the lead's after the last round
    next_step: int
    next_round: int
    wait_s: int  # until the next position is due


def plan_step(ladder: Ladder, step: int, round_: int) -> StepPlan:
    """The page at (step, round) and the position after it."""
    if round_ > ladder.repeat or not ladder.steps:
        return StepPlan(
            engineers=(ladder.lead,),
            step=0,
            round=max(round_, ladder.repeat + 1),
            exhausted=True,
            next_step=0,
            next_round=max(round_, ladder.repeat + 1) + 1,
            wait_s=ladder.exhausted_every_s,
        )
    last_step = step + 1 >= len(ladder.steps)
    last_of_ladder = last_step and round_ == ladder.repeat
    return StepPlan(
        engineers=ladder.steps[step],
        step=step,
        round=round_,
        exhausted=False,
        next_step=0 if last_step else step + 1,
        next_round=round_ + 1 if last_step else round_,
        wait_s=ladder.exhausted_every_s if last_of_ladder else ladder.ack_timeout_s,
    )
