"""The wheel, built and installed once a run into a venv outside the checkout."""

from pathlib import Path

import pytest

from tests.deploy.support import build_wheel, install_in_fresh_venv


@pytest.fixture(scope="session")
def installed_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """bin/ of a fresh venv holding the runtime lock and skillpager's wheel (not editable)."""
    directory = tmp_path_factory.mktemp("wheel")
    return install_in_fresh_venv(directory, build_wheel(directory))
