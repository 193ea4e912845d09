"""schemathesis against the live app's own /openapi.json, as each role: no operation answers 5xx.

The app runs as `serve` runs it (service.app.uvicorn_config) on loopback, with the fake Graph server
behind the settings page's Meta check. Each role logs in through the login form and sends its CSRF
token on every request, so state-changing operations run their real code rather than stopping at the
CSRF check. Logging out and changing one's password are left out: they end the session mid-run.
Bounded at EXAMPLES cases per operation and role, with a fixed seed (`derandomize`) so a failure is
the same on every run.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable

import pytest
import redis
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.generation.case import Case
from schemathesis.schemas import APIOperation

from service.accounts import AccountStore, Role
from service.settings import Settings
from tests.fakes.fake_graph import FakeGraph
from tests.service.test_hardening import PASSWORD, served

pytestmark = pytest.mark.slow

EXAMPLES = 50
ROLES = {"tanaka": Role.STAFF, "kacho": Role.CHIEF, "kanri": Role.ADMIN}
LEFT_OUT = {("POST", "/logout"), ("POST", "/password")}


def logged_in(base: str, username: str) -> requests.Session:
    session = requests.Session()
    form = session.get(f"{base}/login", timeout=10)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token
    session.post(
        f"{base}/login",
        data={"username": username, "password": PASSWORD, "csrf_token": token.group(1)},
        timeout=10,
    )
    page = session.get(f"{base}/queue", timeout=10)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert page.status_code == 200 and csrf, username
    session.headers["X-CSRF-Token"] = csrf.group(1)
    return session


def fuzz(
    operation: APIOperation,
    base: str,
    session: requests.Session,
    username: str,
    cases: Counter[str],
    server_errors: list[str],
) -> None:
    """EXAMPLES generated requests to one operation as one user; 5xx answers are collected, not raised."""

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def run(case: Case) -> None:
        response = case.call(base_url=base, session=session, timeout=30)
        cases[username] += 1
        if response.status_code >= 500:
            server_errors.append(f"{username} {case.method} {case.formatted_path}: {response.status_code}")

    run()


def test_no_operation_answers_5xx_as_any_role(
    r: redis.Redis, make_settings: Callable[..., Settings], capsys: pytest.CaptureFixture[str]
) -> None:
    accounts = AccountStore(r)
    for username, role in ROLES.items():
        accounts.create(username, PASSWORD, role)
    with FakeGraph() as graph, served(make_settings(graph_api_url=graph.base_url)) as base:
        sessions = {username: logged_in(base, username) for username in ROLES}
        schema = schemathesis.openapi.from_dict(
            sessions["kanri"].get(f"{base}/openapi.json", timeout=10).json()
        )
        cases: Counter[str] = Counter()
        server_errors: list[str] = []
        for result in schema.get_all_operations():
            operation = result.ok()
            if (operation.method.upper(), operation.path) in LEFT_OUT:
                continue
            for username, session in sessions.items():
                fuzz(operation, base, session, username, cases, server_errors)
    with capsys.disabled():
        print(f"\nschemathesis: {dict(cases)} cases, {len(server_errors)} answered 5xx")
    assert server_errors == [], server_errors
    assert min(cases.values()) > 0
