"""Dockerfile, deploy/compose.yaml and deploy/Caddyfile, as far as this machine can check them.

No container engine runs here: the Dockerfile is read (layer order, exec forms, no secret
baked in) and its useradd line is run against a scratch root; compose's own `config` renders
both profiles; Caddy validates and adapts the Caddyfile. Building and running the image, and
Caddy's certificates, are not tested here (README, "Deploying").
"""

import json
import os
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from tests.deploy.support import REPO_ROOT
from tests.support.requirements import unavailable

DEPLOY = REPO_ROOT / "deploy"
DOMAIN = "skillpager.example.com"


def instructions() -> list[tuple[str, str]]:
    """The Dockerfile as (INSTRUCTION, arguments), continuation lines joined."""
    text = (REPO_ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    pairs = [line.split(maxsplit=1) for line in lines if line and not line.startswith("#")]
    return [(pair[0].upper(), pair[1] if len(pair) > 1 else "") for pair in pairs]


def test_dependencies_install_before_the_code_is_copied() -> None:
    """A code change rebuilds only the layers after the lock's install."""
    steps = instructions()
    install = next(i for i, (op, args) in enumerate(steps) if op == "RUN" and "-r " in args)
    copied = [args.split()[0] for op, args in steps[:install] if op == "COPY"]
    assert copied == ["requirements/runtime.txt"]
    assert ("COPY", "app ./app") in steps[install:]


def test_image_has_no_site_settings_and_uses_exec_forms() -> None:
    """Token and skills map come at run time; CMD and HEALTHCHECK need no shell."""
    steps = instructions()
    env = " ".join(args for op, args in steps if op == "ENV")
    assert "WEBHOOK_TOKEN" not in env
    assert "SKILLPAGER_RULES_DIR=/etc/skillpager/routing_rules" in env
    [cmd] = [args for op, args in steps if op == "CMD"]
    assert json.loads(cmd) == ["skillpager", "serve", "--migrate"]
    [health] = [args for op, args in steps if op == "HEALTHCHECK"]
    assert json.loads(health.split("CMD", 1)[1])[0] == "python"
    [user] = [args for op, args in steps if op == "USER"]
    assert user.isdigit()


def test_useradd_line_runs_without_a_warning(tmp_path: Path) -> None:
    """The image's useradd, run against a scratch copy of /etc: no warning on stderr."""
    if os.geteuid() != 0 or shutil.which("useradd") is None:
        unavailable("needs root and useradd (this check writes a scratch /etc only)")
    [run] = [args for op, args in instructions() if op == "RUN" and "useradd" in args]
    useradd = shlex.split(next(part for part in run.split("&&") if "useradd" in part))
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    for name in ("passwd", "group", "shadow", "gshadow", "login.defs"):
        if Path("/etc", name).exists():
            shutil.copy(Path("/etc", name), root / "etc" / name)
    (root / "usr" / "sbin").mkdir(parents=True)
    shutil.copy("/bin/true", root / "usr" / "sbin" / "nologin")  # the image's nologin
    done = subprocess.run(
        [useradd[0], "--root", str(root), *useradd[1:]],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert "skillpager:x:10001:10001:" in (root / "etc" / "passwd").read_text()


def compose_config(tmp_path: Path, profile: str) -> dict[str, Any]:
    """`docker compose config` of deploy/ (a copy, with the env file filled in) for a profile."""
    if shutil.which("docker-compose"):
        compose = ["docker-compose"]
    elif (
        subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30).returncode
        == 0
    ):
        compose = ["docker", "compose"]
    else:
        unavailable("no compose binary (apt-get install docker-compose)")
    deploy = shutil.copytree(DEPLOY, tmp_path / "deploy")
    shutil.copy(deploy / "skillpager.env.example", deploy / "skillpager.env")
    env = {**os.environ, "POSTGRES_PASSWORD": "pg-secret", "SKILLPAGER_DOMAIN": DOMAIN}
    done = subprocess.run(
        [*compose, "-f", str(deploy / "compose.yaml"), "--profile", profile, "config"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    rendered: dict[str, Any] = YAML(typ="safe").load(done.stdout)
    return rendered


def in_profile(config: dict[str, Any], profile: str) -> dict[str, Any]:
    """The services a profile starts (compose v1 prints every service)."""
    services: dict[str, Any] = config["services"]
    return {name: svc for name, svc in services.items() if profile in svc.get("profiles", [])}


def test_compose_sqlite_profile(tmp_path: Path) -> None:
    """One skillpager on a SQLite volume, the rules read-only, secrets from the env file."""
    services = in_profile(compose_config(tmp_path, "sqlite"), "sqlite")
    assert set(services) == {"skillpager", "backup"}
    skillpager = services["skillpager"]
    assert skillpager["environment"]["SKILLPAGER_DATABASE_URL"].endswith("////data/skillpager.db")
    assert skillpager["environment"]["SKILLPAGER_WEBHOOK_TOKEN"] == "change-me"
    volumes = [str(volume) for volume in skillpager["volumes"]]
    assert any(v.endswith("/routing_rules:/etc/skillpager/routing_rules:ro") for v in volumes)
    assert any(v.startswith("skillpager-data:/data") for v in volumes)
    assert "healthcheck" in skillpager
    assert services["backup"]["environment"]["SKILLPAGER_DB_PATH"] == "/data/skillpager.db"


def test_compose_ha_profile(tmp_path: Path) -> None:
    """PostgreSQL, one migration, two replicas on it, Caddy on 443 in front."""
    services = in_profile(compose_config(tmp_path, "ha"), "ha")
    assert set(services) == {"postgres", "migrate", "skillpager-1", "skillpager-2", "caddy"}
    for name in ("skillpager-1", "skillpager-2"):
        env = services[name]["environment"]
        assert env["SKILLPAGER_DATABASE_URL"] == (
            "postgresql+asyncpg://skillpager:pg-secret@postgres:5432/skillpager"
        )
        assert env["SKILLPAGER_PUBLIC_URL"] == f"https://{DOMAIN}"
        assert services[name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )
        assert "ports" not in services[name]  # reached through Caddy only
    assert any("443" in str(port) for port in services["caddy"]["ports"])


def caddy(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run caddy on deploy/Caddyfile for DOMAIN (its own state under `home`)."""
    binary = shutil.which("caddy")
    if binary is None:
        unavailable("caddy is not installed (apt-get install caddy)")
    command = [binary, *args, "--config", str(DEPLOY / "Caddyfile"), "--adapter", "caddyfile"]
    env = {**os.environ, "SKILLPAGER_DOMAIN": DOMAIN, "HOME": str(home), "XDG_DATA_HOME": str(home)}
    return subprocess.run(command, capture_output=True, text=True, timeout=60, env=env, check=False)


def test_caddyfile_validates_and_proxies_both_replicas(tmp_path: Path) -> None:
    """`caddy validate` passes; the adapted config serves DOMAIN from both replicas."""
    validated = caddy(tmp_path, "validate")
    assert validated.returncode == 0, validated.stderr
    adapted = caddy(tmp_path, "adapt")
    assert adapted.returncode == 0, adapted.stderr
    text = adapted.stdout
    assert f'"host":["{DOMAIN}"]' in text
    assert '"dial":"skillpager-1:8080"' in text
    assert '"dial":"skillpager-2:8080"' in text
    assert '"uri":"/readyz"' in text
