"""Reloading rules without a restart: broken edits are refused, the old map keeps routing."""

import os
from datetime import timedelta
from pathlib import Path

import pytest

from app.clock import FrozenClock
from app.routing.decision import route
from app.routing.holder import RulesHolder
from app.routing.issues import RulesError
from tests.routing.support import SYSTEMS, alert, utc, write_rules

NOW = utc("2026-03-03 10:00")


def _first_paged(holder: RulesHolder) -> list[str]:
    return list(route(holder.rules, alert({"service": "db"}), NOW).steps[0].engineers)


def test_reload_refuses_a_broken_edit_and_keeps_routing(tmp_path: Path) -> None:
    """A broken file: errors returned, last good rules kept; a fix is then picked up."""
    clock = FrozenClock(NOW)
    holder = RulesHolder(write_rules(tmp_path), clock=clock)
    good_version = holder.version
    assert _first_paged(holder) == ["bo"]
    assert not holder.changed()

    (tmp_path / "systems.yaml").write_text(SYSTEMS + "    experts: [zed]\n")
    assert holder.changed()
    clock.advance(timedelta(seconds=5))
    result = holder.reload()
    assert not result.ok
    assert result.errors == (f"{tmp_path}/systems.yaml:5: unknown engineer 'zed'",)
    assert result.at == NOW + timedelta(seconds=5)
    assert holder.version == good_version
    assert _first_paged(holder) == ["bo"]
    assert holder.last_result is result
    assert not holder.changed()  # the same broken bytes are not reloaded again

    (tmp_path / "systems.yaml").write_text(SYSTEMS + "    experts: [lena]\n")
    assert holder.changed()
    result = holder.reload()
    assert result.ok
    assert result.errors == ()
    assert holder.version != good_version
    assert holder.version == result.version
    assert _first_paged(holder) == ["lena"]


def test_touch_without_change_is_not_a_change(tmp_path: Path) -> None:
    """Same bytes with a new mtime: changed() stays False."""
    holder = RulesHolder(write_rules(tmp_path), clock=FrozenClock(NOW))
    path = tmp_path / "team.yaml"
    path.write_bytes(path.read_bytes() + b"")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert not holder.changed()


def test_policy_file_appearing_is_a_change(tmp_path: Path) -> None:
    """Adding policy.yaml changes the version."""
    holder = RulesHolder(write_rules(tmp_path), clock=FrozenClock(NOW))
    (tmp_path / "policy.yaml").write_text("ack_timeout: 1m\n")
    assert holder.changed()
    assert holder.reload().ok
    assert holder.rules.policy.ack_timeout == timedelta(minutes=1)


def test_first_load_must_succeed(tmp_path: Path) -> None:
    """A service cannot start on broken rules."""
    write_rules(tmp_path, team="lead: x\nengineers: {}\n")
    with pytest.raises(RulesError):
        RulesHolder(tmp_path, clock=FrozenClock(NOW))
