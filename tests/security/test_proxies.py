"""X-Forwarded-For counts only from SKILLPAGER_TRUSTED_PROXIES (issue 12.17).

uvicorn believes the header from 127.0.0.1 by default, so any local process (or a proxy that
passes a client's header on) could pick the address the sign-in limits count. These run the
real `skillpager serve`, whose peer is always 127.0.0.1 here.
"""

import re
from pathlib import Path

import httpx
import pytest

from app.config import SettingsInvalid, load_settings
from tests.support.server import ServerProcess

# More attempts than any per-address sign-in limit allows in its window.
_ATTEMPTS = 60
_ENV = {"SKILLPAGER_SESSION_SECRET": "proxy-test-secret"}


def _refused_at(client: httpx.Client, forwarded_for: list[str]) -> int | None:
    """Post wrong sign-in tokens, one per forwarded address; the attempt answered 429."""
    page = client.get("/signin")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None, page.text
    for attempt, address in enumerate(forwarded_for):
        answer = client.post(
            "/signin",
            data={"csrf": csrf.group(1), "token": "wrong", "next": "/"},
            headers={"X-Forwarded-For": address},
        )
        if answer.status_code == 429:
            return attempt
        assert answer.status_code == 401, answer.text
    return None


def _distinct(count: int) -> list[str]:
    return [f"198.51.100.{n}" for n in range(1, count + 1)]


@pytest.mark.slow
def test_forwarded_for_from_an_untrusted_peer_is_ignored(tmp_path: Path) -> None:
    with ServerProcess(tmp_path, env=_ENV) as server, httpx.Client(base_url=server.base_url) as c:
        # Every attempt claims another address; all are counted as the peer's.
        assert _refused_at(c, _distinct(_ATTEMPTS)) is not None


@pytest.mark.slow
def test_forwarded_for_from_a_trusted_proxy_is_the_client(tmp_path: Path) -> None:
    env = _ENV | {"SKILLPAGER_TRUSTED_PROXIES": "127.0.0.1"}
    with ServerProcess(tmp_path, env=env) as server, httpx.Client(base_url=server.base_url) as c:
        assert _refused_at(c, _distinct(_ATTEMPTS)) is None
        # One real client behind the proxy is still limited.
        assert _refused_at(c, ["203.0.113.7"] * _ATTEMPTS) is not None


@pytest.mark.parametrize("value", ["10.0.0.0/8, 127.0.0.1", "::1", "*", ""])
def test_trusted_proxies_setting_takes_addresses_and_networks(value: str) -> None:
    expected = [part.strip() for part in value.split(",") if part.strip()]
    assert load_settings(trusted_proxies=value).trusted_proxy_list == expected


def test_a_bad_trusted_proxy_is_named_at_start() -> None:
    with pytest.raises(SettingsInvalid) as refused:
        load_settings(trusted_proxies="10.0.0.1, proxy.local")
    assert "SKILLPAGER_TRUSTED_PROXIES" in refused.value.problems[0]
    assert "proxy.local" in refused.value.problems[0]
