"""Live staff pages (issue 11): `GET /live/events` tells an open page when an item arrives or someone acts,
and who else has an item open. Real app over loopback HTTP, real Redis, the real worker and moderation."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator

import pytest
import redis
import requests

from service.accounts import AccountStore, Role
from service.moderation import Moderation
from service.settings import Settings
from service.worker import Worker, ensure_group
from tests.conftest import INSULT, enqueue, fb
from tests.service.test_moderation import add_flagged

PASSWORD = "Kawa-Nagare#Sora82"
DEADLINE_SECONDS = 20


@pytest.fixture
def people(r: redis.Redis) -> None:
    accounts = AccountStore(r)
    accounts.create("tanaka", PASSWORD, Role.STAFF, display_name="田中")
    accounts.create("suzuki", PASSWORD, Role.STAFF, display_name="鈴木")


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
    return session


class Events:
    """An open event stream, read event by event until one matches or the deadline passes."""

    def __init__(self, session: requests.Session, url: str) -> None:
        self.response = session.get(url, stream=True, timeout=(10, 30))
        assert self.response.status_code == 200
        assert self.response.headers["content-type"].startswith("text/event-stream")
        self._lines = self.response.iter_lines(decode_unicode=True)
        self.first: list[tuple[str, str]] = []  # what came before "ready" (an item's present viewers)
        self.wait_for(lambda name, data: name == "ready" or self.first.append((name, data)))

    def wait_for(self, matches: object) -> tuple[str, str]:
        deadline = time.monotonic() + DEADLINE_SECONDS
        name, data = "", ""
        for line in self._lines:
            assert time.monotonic() < deadline, "the event never came"
            if line == ": ready":
                name = "ready"
            elif line.startswith("event: "):
                name = line[7:]
                continue
            elif line.startswith("data: "):
                data = line[6:]
                continue
            elif line:
                continue
            if name and matches(name, data):  # type: ignore[operator]
                return name, data
            name, data = "", ""
        raise AssertionError("the stream ended")

    def close(self) -> None:
        self.response.close()


@pytest.fixture
def streams() -> Iterator[list[Events]]:
    opened: list[Events] = []
    yield opened
    for stream in opened:
        stream.close()


def test_a_new_item_and_a_decision_reach_an_open_queue_page(
    app_url: str, r: redis.Redis, redis_url: str, settings: Settings, people: None, streams: list[Events]
) -> None:
    session = logged_in(app_url, "tanaka")
    streams.append(events := Events(session, f"{app_url}/live/events"))
    ensure_group(r)
    enqueue(redis_url, fb("81_1", INSULT))
    Worker(r, settings).drain()
    events.wait_for(lambda name, data: name == "change" and "facebook:81_1" in data.split())
    Moderation(r).decide("facebook:81_1", "dismiss", actor="suzuki", role="staff")
    events.wait_for(lambda name, data: name == "change" and "facebook:81_1" in data.split())


def test_two_people_on_one_item_see_each_other(
    app_url: str, r: redis.Redis, people: None, streams: list[Events]
) -> None:
    item = add_flagged(r)
    tanaka, suzuki = logged_in(app_url, "tanaka"), logged_in(app_url, "suzuki")
    streams.append(first := Events(tanaka, f"{app_url}/live/events?item={item}"))
    page = suzuki.get(f"{app_url}/items/{item}", timeout=10)
    assert re.search(r'id="presence"[^>]*>田中さんもこのコメントを開いています。', page.text)
    # Tanaka's page hears that Suzuki came, and Suzuki's stream names Tanaka.
    first.wait_for(lambda name, data: name == "presence" and json.loads(data) == ["鈴木"])
    streams.append(second := Events(suzuki, f"{app_url}/live/events?item={item}"))
    assert second.first == [("presence", json.dumps(["田中"], ensure_ascii=False))]
    second.close()
    # Tanaka leaves: Suzuki's page load no longer names anyone once the stream is closed.
    first.close()
    deadline = time.monotonic() + DEADLINE_SECONDS
    while "田中さん" in suzuki.get(f"{app_url}/items/{item}", timeout=10).text:
        assert time.monotonic() < deadline, "Tanaka's presence was not removed"
        time.sleep(0.1)


def test_the_stream_needs_a_session(
    app_url: str, r: redis.Redis, people: None
) -> None:
    assert requests.get(f"{app_url}/live/events", timeout=10).status_code == 401
