"""Fixtures for adapter tests: the fake Telegram and LINE servers, and replyline served live."""

import pytest

from tests.fakes.live_app import LiveApp, line_api, platform_settings, telegram_api  # noqa: F401


@pytest.fixture
def live_factory(sqlite_url, classifier, telegram_api, line_api):  # noqa: F811
    """Start replyline against the fakes, its encoder and FAQ index ready (see
    `LiveApp.up_a_while`); keyword arguments override settings."""
    apps = []

    def start(**overrides) -> LiveApp:
        settings = platform_settings(sqlite_url, telegram_api, line_api).updated(**overrides)
        app = LiveApp(settings, classifier).start().up_a_while()
        apps.append(app)
        return app

    yield start
    for app in apps:
        app.stop()
