"""deploy/skillpager.service: systemd accepts it, and its own command lines run the wheel.

Without systemd running here the unit is read as systemd would (sections, repeated keys,
Environment= then EnvironmentFile=), its paths mapped into a temporary root, and its
ExecStartPre and ExecStart run as given against the installed wheel.
"""

import shlex
import shutil
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest

from tests.deploy.support import REPO_ROOT, WEBHOOK_TOKEN, post_alert, run, serving
from tests.support.requirements import unavailable
from tests.support.server import EXAMPLE_RULES, free_port

pytestmark = pytest.mark.slow
DEPLOY = REPO_ROOT / "deploy"
UNITS = ["skillpager.service", "skillpager-litestream.service"]
Unit = dict[str, dict[str, list[str]]]


def read_unit(text: str) -> Unit:
    """section -> key -> values in order (systemd keys may repeat)."""
    unit: Unit = {}
    section: dict[str, list[str]] = defaultdict(list)
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = unit.setdefault(line[1:-1], defaultdict(list))
            continue
        key, _, value = line.partition("=")
        section[key.strip()].append(value.strip())
    return unit


def read_env_file(text: str) -> dict[str, str]:
    """KEY=value lines of an EnvironmentFile (comments and blank lines skipped)."""
    pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line)
    return {key.strip(): value.strip() for key, value in pairs if not key.startswith("#")}


def mapped(value: str, roots: dict[str, Path]) -> str:
    """`value` with the unit's absolute paths moved under the test's folders."""
    for real, test in roots.items():
        value = value.replace(real, str(test))
    return value


def test_unit_asks_for_what_a_vm_install_needs() -> None:
    """Restart=always, secrets from an EnvironmentFile, SQLite under /var/lib/skillpager."""
    service = read_unit((DEPLOY / "skillpager.service").read_text())["Service"]
    assert service["Restart"] == ["always"]
    assert service["EnvironmentFile"] == ["/etc/skillpager/skillpager.env"]
    assert service["ExecStart"] == ["/opt/skillpager/bin/skillpager serve"]
    assert service["StateDirectory"] == ["skillpager"]
    database = [e for e in service["Environment"] if e.startswith("SKILLPAGER_DATABASE_URL=")]
    assert database == [
        "SKILLPAGER_DATABASE_URL=sqlite+aiosqlite:////var/lib/skillpager/skillpager.db"
    ]


@pytest.mark.parametrize("name", UNITS)
def test_systemd_analyze_verify_accepts_the_unit(
    name: str, installed_bin: Path, tmp_path: Path
) -> None:
    """`systemd-analyze verify` finds nothing to say (its binaries mapped to the wheel's venv)."""
    verify = shutil.which("systemd-analyze")
    if verify is None:
        unavailable("systemd-analyze is not installed (apt-get install systemd)")
    for tool in ("skillpager", "litestream"):
        if not (installed_bin / tool).exists():
            (installed_bin / tool).symlink_to(shutil.which("true") or "/bin/true")
    unit = tmp_path / name
    unit.write_text(mapped((DEPLOY / name).read_text(), {"/opt/skillpager/bin": installed_bin}))
    done = subprocess.run(
        [verify, "verify", str(unit)], capture_output=True, text=True, timeout=60, check=False
    )
    assert (done.returncode, done.stderr) == (0, "")


def test_unit_command_lines_migrate_and_serve(installed_bin: Path, tmp_path: Path) -> None:
    """ExecStartPre then ExecStart, in the unit's environment and folder: healthy, alerts in."""
    roots = {
        "/opt/skillpager/bin": installed_bin,
        "/var/lib/skillpager": tmp_path / "var-lib-skillpager",
        "/etc/skillpager": tmp_path / "etc-skillpager",
    }
    roots["/var/lib/skillpager"].mkdir()  # systemd's StateDirectory=
    shutil.copytree(EXAMPLE_RULES, roots["/etc/skillpager"] / "routing_rules")
    env_file = (DEPLOY / "skillpager.env.example").read_text()
    env_file = env_file.replace(
        "SKILLPAGER_WEBHOOK_TOKEN=change-me", f"SKILLPAGER_WEBHOOK_TOKEN={WEBHOOK_TOKEN}"
    )
    (roots["/etc/skillpager"] / "skillpager.env").write_text(env_file)

    service = read_unit(mapped((DEPLOY / "skillpager.service").read_text(), roots))["Service"]
    port = free_port()
    env = {"PATH": "/usr/bin:/bin"}
    env |= dict(entry.split("=", 1) for entry in service["Environment"])
    [env_path] = service["EnvironmentFile"]
    env |= read_env_file(Path(env_path).read_text())
    env |= {"SKILLPAGER_PORT": str(port), "SKILLPAGER_PUBLIC_URL": f"http://127.0.0.1:{port}"}
    [workdir] = service["WorkingDirectory"]
    for command in service["ExecStartPre"]:
        run(shlex.split(command), env, Path(workdir))
    [start] = service["ExecStart"]
    with serving(shlex.split(start), env, Path(workdir), port) as client:
        post_alert(client, "disk full on db-1")
    assert (roots["/var/lib/skillpager"] / "skillpager.db").is_file()
