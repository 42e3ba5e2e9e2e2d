"""Helpers for the deployment tests: the wheel in a fresh venv, a service process, a client."""

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support.server import EXAMPLE_RULES, LOOPBACK

REPO_ROOT = Path(__file__).resolve().parents[2]
WEBHOOK_TOKEN = "deploy-webhook-token"
# What a source copy for the wheel leaves out: local state and caches, never package files.
_NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", "build", "*.egg-info", "__pycache__", "*.db*", ".*_cache", ".hypothesis"
)


def build_wheel(directory: Path) -> Path:
    """`pip wheel --no-deps .` on a copy of the checkout (the build writes build/ beside it)."""
    source = shutil.copytree(REPO_ROOT, directory / "src", ignore=_NOT_SOURCE)
    dist = directory / "dist"
    pip(sys.executable, "wheel", "--no-deps", "--quiet", "--wheel-dir", str(dist), str(source))
    [wheel] = dist.glob("skillpager-*.whl")
    return wheel


def install_in_fresh_venv(directory: Path, wheel: Path) -> Path:
    """A new venv (no system site-packages) with the runtime lock and the wheel; its bin/."""
    venv = directory / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = str(venv / "bin" / "python")
    pip(python, "install", "--quiet", "-r", str(REPO_ROOT / "requirements" / "runtime.txt"))
    pip(python, "install", "--quiet", "--no-deps", str(wheel))
    return venv / "bin"


def pip(python: str, *args: str) -> None:
    """Run pip with `python`; its output in the failure message."""
    done = subprocess.run(
        [python, "-m", "pip", *args], capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, f"pip {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"


def service_env(database_url: str, port: int, rules_dir: Path = EXAMPLE_RULES) -> dict[str, str]:
    """The environment a deployment gives skillpager (none of the developer's SKILLPAGER_*)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKILLPAGER_")}
    env |= {
        "SKILLPAGER_DATABASE_URL": database_url,
        "SKILLPAGER_RULES_DIR": str(rules_dir),
        "SKILLPAGER_WEBHOOK_TOKEN": WEBHOOK_TOKEN,
        "SKILLPAGER_HOST": LOOPBACK,
        "SKILLPAGER_PORT": str(port),
        "SKILLPAGER_LOG_FORMAT": "text",
    }
    return env


def run(command: Sequence[str], env: Mapping[str, str], cwd: Path) -> str:
    """Run a command to its end; its stdout (stderr in the failure message)."""
    done = subprocess.run(
        list(command), env=dict(env), cwd=cwd, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"{' '.join(command)} exited {done.returncode}:\n{done.stderr}"
    return done.stdout


@contextmanager
def serving(
    command: Sequence[str], env: Mapping[str, str], cwd: Path, port: int
) -> Iterator[httpx.Client]:
    """Start `command` (a `skillpager serve`), wait for /healthz, yield a client; stop it."""
    log_path = cwd / "serve.log" if os.access(cwd, os.W_OK) else None
    with (log_path or Path(os.devnull)).open("ab") as log:
        process = subprocess.Popen(
            list(command),
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://{LOOPBACK}:{port}"
    try:
        with httpx.Client(base_url=base_url, timeout=5.0) as client:
            _wait_healthy(client, process, log_path)
            yield client
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _wait_healthy(client: httpx.Client, process: subprocess.Popen[bytes], log: Path | None) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text()[-3000:] if log else ""
            raise AssertionError(f"serve exited with {process.returncode}:\n{tail}")
        try:
            if client.get("/healthz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError("serve did not answer /healthz within 30 s")


def post_alert(client: httpx.Client, summary: str, **labels: str) -> int:
    """A critical generic alert (for payments-db unless `labels` say otherwise) through the
    webhook; the incident it opened or joined."""
    labels = {"service": "payments-db", **labels}
    body = {"summary": summary, "severity": "critical", "labels": labels}
    headers = {"Authorization": f"Bearer {WEBHOOK_TOKEN}"}
    answer = client.post("/webhooks/generic", json=body, headers=headers)
    assert answer.status_code == 202, answer.text
    incident: int = answer.json()["incidents"][0]
    return incident
