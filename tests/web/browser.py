"""Real headless Chromium (Debian's /usr/bin/chromium) driven by Playwright, for browser tests.

Never downloads a browser: a missing chromium or playwright skips locally and fails under CI.
"""

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from tests.support.requirements import unavailable
from tests.support.server import EXAMPLE_RULES

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
REPO_ROOT = Path(__file__).resolve().parents[2]
# `make screenshots` points this at docs/screenshots; a test run never writes into the tree.
SCREENSHOTS_ENV = "SKILLPAGER_SCREENSHOTS_DIR"


@contextmanager
def chromium() -> Iterator[Any]:
    """A launched headless Chromium browser."""
    if not (Path(CHROMIUM).exists() or shutil.which("chromium")):
        unavailable("chromium is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed (pip install -e '.[dev]')")
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def cli(database_url: str, *args: str) -> str:
    """Run the real `skillpager` CLI on a database; its stdout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKILLPAGER_")}
    env |= {
        "SKILLPAGER_DATABASE_URL": database_url,
        "SKILLPAGER_RULES_DIR": str(EXAMPLE_RULES),
    }
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


@cache
def screenshots_dir() -> Path:
    """Where screenshots go: $SKILLPAGER_SCREENSHOTS_DIR, else one temporary folder a run."""
    chosen = os.environ.get(SCREENSHOTS_ENV)
    return Path(chosen) if chosen else Path(tempfile.mkdtemp(prefix="skillpager-screenshots-"))


def screenshot(page: Any, name: str) -> None:
    """Save a full-page PNG (the README's ones under `make screenshots`)."""
    folder = screenshots_dir()
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
