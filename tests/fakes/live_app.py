"""replyline (web app and worker) served by uvicorn on a free loopback port inside the test
process, wired to the fake platform servers; plus pytest fixtures for those fakes.

Use in a conftest: `from tests.fakes.live_app import line_api, telegram_api  # noqa: F401`."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import httpx
import pytest
import uvicorn

from bot.config import Settings
from bot.services import Services
from bot.web.app import create_app
from tests.fakes.line_api import FakeLine
from tests.fakes.line_webhooks import CHANNEL_SECRET
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.telegram_updates import WEBHOOK_SECRET


@pytest.fixture
def telegram_api():
    fake = FakeTelegram().start()
    yield fake
    fake.stop()


@pytest.fixture
def line_api():
    fake = FakeLine().start()
    yield fake
    fake.stop()


def platform_settings(
    database_url: str,
    telegram: FakeTelegram | None = None,
    line: FakeLine | None = None,
    **overrides,
) -> Settings:
    """Settings for a replyline that talks to the fakes, with fast timings for tests."""
    tg: dict = {
        "chat_interval_seconds": 0.02,
        "group_per_minute": 1000,
        "global_per_second": 1000,
        "max_inline_wait_seconds": 1.0,
    }
    if telegram:
        tg |= {
            "bot_token": telegram.token,
            "webhook_secret": WEBHOOK_SECRET,
            "api_base": telegram.api_base,
        }
    values: dict = {
        "database": {"url": database_url},
        "web": {"secret_key": "test-secret-key"},
        "pipeline": {"worker_poll_seconds": 0.05},
        "telegram": tg,
    }
    if line:
        values["line"] = {
            "channel_secret": CHANNEL_SECRET,
            "channel_access_token": line.access_token,
            "api_base": line.api_base,
        }
    return Settings(_env_file=None, **values).updated(**overrides)


class LiveApp:
    def __init__(self, settings: Settings, classifier):
        self.settings = settings
        self.services = Services.build(settings, classifier=lambda: classifier)
        self.app = create_app(settings, self.services)
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=0, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = ""
        self.http: httpx.Client | None = None

    def start(self) -> LiveApp:
        self._thread.start()
        wait_until(lambda: self.server.started, timeout=15, what="the app to start")
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.http = httpx.Client(base_url=self.url, timeout=10)
        return self

    def up_a_while(self) -> LiveApp:
        """As a server that has answered before: the shared encoder and the FAQ index, built on
        the first message after start-up (tens of seconds on a busy machine), are ready, so a
        test that times what follows a message times that, not a one-off model load."""
        from bot.pipeline.warm_up import warm_up

        warm_up(self.services.pipeline, self.settings.nlp)
        return self

    def stop(self) -> None:
        if self.http:
            self.http.close()
        self.server.should_exit = True
        self._thread.join(timeout=15)
        self.services.engine.dispose()

    def post(self, path: str, content: bytes, headers: dict) -> httpx.Response:
        return self.http.post(path, content=content, headers=headers)


def wait_until(
    condition: Callable[[], object], timeout: float = 30, what: str = "the condition"
) -> object:
    """Poll until `condition()` is truthy; fail the test with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
