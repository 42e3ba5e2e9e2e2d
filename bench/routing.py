"""Routing throughput: 10 engineers x 500 systems with regex matchers; prints decisions/s.

Run: .venv/bin/python bench/routing.py [--alerts N]
"""

import argparse
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.routing.decision import route
from app.routing.loader import load_rules

SKILLS = ["postgres", "kafka", "kubernetes", "networking", "payments", "java", "python", "redis"]
ZONES = ["Europe/Stockholm", "America/New_York"]
CUSTOMERS = ["acme", "globex", "initech"]


@dataclass(frozen=True)
class Alert:
    """A minimal RoutableAlert."""

    source: str
    severity: str
    labels: dict[str, str] = field(default_factory=dict)
    dedup_key: str = ""


def team_yaml(rng: random.Random) -> str:
    """10 engineers in two time zones, 2-4 skills each."""
    lines = ["lead: eng0", "engineers:"]
    for n in range(10):
        skills = ", ".join(
            f"{s}: {rng.randint(1, 5)}" for s in rng.sample(SKILLS, rng.randint(2, 4))
        )
        lines += [
            f"  eng{n}:",
            f'    phone: "+4670{n:07d}"',
            f"    timezone: {ZONES[n % 2]}",
            '    hours: "Mon-Fri 08:00-17:00"' if n % 3 else '    hours: ["Fri 22:00-02:00"]',
            f"    skills: {{{skills}}}",
        ]
    return "\n".join(lines) + "\n"


def systems_yaml(rng: random.Random, count: int) -> str:
    """`count` systems: a literal service entry, a regex alertname + customer entry, and
    for every fifth system a pure-regex entry."""
    lines = ["systems:"]
    for n in range(count):
        customer = CUSTOMERS[n % 3]
        lines += [
            f"  sys{n}:",
            f"    customer: {customer}",
            f"    skills: [{', '.join(rng.sample(SKILLS, 2))}]",
            "    match:",
            f"      - {{service: svc-{n}}}",
            f'      - {{alertname: "Sys{n}(Down|Latency.*)", customer: {customer}}}',
        ]
        if n % 5 == 0:
            lines.append(f'      - {{namespace: "team-{n}-.*", cluster: "prod-[a-z]+"}}')
    return "\n".join(lines) + "\n"


def alerts(rng: random.Random, count: int, systems: int) -> list[Alert]:
    """A mix: by service, by alertname, by regex namespace, and unrouted."""
    made = []
    for _ in range(count):
        n = rng.randrange(systems)
        kind = rng.random()
        severity = rng.choice(["critical", "warning", "info"])
        if kind < 0.4:
            labels = {"alertname": "HighLatency", "service": f"svc-{n}"}
        elif kind < 0.8:
            labels = {"alertname": f"Sys{n}LatencyP99", "customer": CUSTOMERS[n % 3]}
        elif kind < 0.9:
            n -= n % 5
            labels = {"alertname": "PodCrash", "namespace": f"team-{n}-api", "cluster": "prod-eu"}
        else:
            labels = {"alertname": "Mystery", "customer": "nobody"}
        made.append(Alert("alertmanager", severity, labels))
    return made


def main() -> None:
    """Build the rules, route the alerts, print the figure."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--alerts", type=int, default=100_000)
    parser.add_argument("--systems", type=int, default=500)
    args = parser.parse_args()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        rules_dir = Path(tmp)
        (rules_dir / "team.yaml").write_text(team_yaml(rng))
        (rules_dir / "systems.yaml").write_text(systems_yaml(rng, args.systems))
        started = time.process_time()
        rules = load_rules(rules_dir)
        load_s = time.process_time() - started
    batch = alerts(rng, args.alerts, args.systems)
    base = datetime(2026, 3, 27, 9, 0, tzinfo=UTC)
    started = time.process_time()
    actions: dict[str, int] = {}
    for index, alert in enumerate(batch):
        decision = route(rules, alert, base + timedelta(minutes=index % 10_000))
        actions[decision.action] = actions.get(decision.action, 0) + 1
    elapsed = time.process_time() - started
    print(
        f"rules: {len(rules.engineers)} engineers, {len(rules.systems)} systems, "
        f"loaded in {load_s * 1000:.0f} ms"
    )
    rate = len(batch) / elapsed
    print(f"routed {len(batch)} alerts in {elapsed:.2f} s CPU: {rate:,.0f} decisions/s")
    print(f"actions: {dict(sorted(actions.items()))}")


if __name__ == "__main__":
    main()
