"""Tokens match the skills map: `token create` checks the engineer or customer (with "did you
mean"), and a token of an engineer since removed from the map is refused (issue 19, point 5)."""

import logging
import re

import pytest

from tests.cli.support import Cli
from tests.support.app import app_settings, running_app


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--engineer", "nobody"],
            "unknown engineer 'nobody': not in {rules}/team.yaml; known: anna, bo, carl",
        ),
        (
            ["--engineer", "bob"],
            "unknown engineer 'bob': not in {rules}/team.yaml; did you mean 'bo'?",
        ),
        (
            ["--customer", "nosuchcustomer"],
            "unknown customer 'nosuchcustomer': not in {rules}/systems.yaml; known: acme, globex",
        ),
        (
            ["--customer", "acmee"],
            "unknown customer 'acmee': not in {rules}/systems.yaml; did you mean 'acme'?",
        ),
    ],
)
def test_create_refuses_who_the_map_does_not_know(cli: Cli, args: list[str], message: str) -> None:
    cli.migrate()
    done = cli.run("token", "create", *args)
    assert (done.code, done.err) == (2, message.format(rules=cli.rules_dir) + "\n")
    assert cli.run("token", "list").out == ""


async def test_a_removed_engineers_token_is_refused(
    cli: Cli, caplog: pytest.LogCaptureFixture
) -> None:
    url = cli.migrate()
    created = cli.run("token", "create", "--engineer", "carl")
    assert created.code == 0, created.err
    token = created.out.splitlines()[-1]
    headers = {"Authorization": f"Bearer {token}"}
    async with running_app(app_settings(url, rules_dir=cli.rules_dir)) as app:
        assert (await app.client.get("/api/alerts", headers=headers)).status_code == 200
        team = cli.rules_dir / "team.yaml"
        text = team.read_text()
        team.write_text(re.sub(r"\n  carl:\n(    .*\n)*", "\n", text + "\n"))
        reload = await app.client.post("/api/rules/reload", headers=app.reader_headers())
        assert reload.status_code == 200, reload.text
        with caplog.at_level(logging.WARNING, logger="app.auth"):
            refused = await app.client.get("/api/alerts", headers=headers)
    assert refused.status_code == 401
    assert refused.json()["error"] == (
        "this token belongs to engineer 'carl', who is no longer in the skills map (team.yaml)"
    )
    assert "refused a token of engineer carl: no longer in the skills map" in caplog.text
    assert token not in caplog.text
