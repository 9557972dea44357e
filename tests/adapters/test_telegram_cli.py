"""`replyline telegram set-webhook | delete-webhook | poll` against the fake Bot API."""

import pytest

from bot.cli import main
from bot.config import get_settings
from db.engine import make_engine
from tests.adapters.support import inbound
from tests.fakes import telegram_updates as tu
from tests.fakes.telegram_updates import WEBHOOK_SECRET


@pytest.fixture
def env(monkeypatch, sqlite_url, telegram_api):
    monkeypatch.setenv("REPLYLINE_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("REPLYLINE_TELEGRAM_BOT_TOKEN", telegram_api.token)
    monkeypatch.setenv("REPLYLINE_TELEGRAM_API_BASE", telegram_api.api_base)
    monkeypatch.setenv("REPLYLINE_TELEGRAM_WEBHOOK_SECRET", WEBHOOK_SECRET)
    monkeypatch.setenv("REPLYLINE_LANGUAGE", "en")  # the tests read English
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def test_set_webhook_registers_the_url_with_the_secret_and_the_handled_updates(
    env, telegram_api, capsys
):
    assert main(["telegram", "set-webhook", "https://replyline.example.org"]) == 0
    assert telegram_api.webhook == {
        "url": "https://replyline.example.org/webhooks/telegram",
        "secret_token": WEBHOOK_SECRET,
        "allowed_updates": ["message", "edited_message", "callback_query", "message_reaction"],
    }
    assert "/webhooks/telegram" in capsys.readouterr().out


def test_set_webhook_needs_a_secret(env, telegram_api, capsys):
    env.delenv("REPLYLINE_TELEGRAM_WEBHOOK_SECRET")
    get_settings.cache_clear()
    assert main(["telegram", "set-webhook", "https://replyline.example.org/"]) == 2
    assert "REPLYLINE_TELEGRAM_WEBHOOK_SECRET" in capsys.readouterr().err
    assert telegram_api.webhook == {}


def test_poll_refuses_to_run_while_a_webhook_is_set(env, telegram_api, capsys):
    main(["telegram", "set-webhook", "https://replyline.example.org"])
    assert main(["telegram", "poll", "--rounds", "1", "--timeout", "0"]) == 2
    assert "--delete-webhook" in capsys.readouterr().err
    assert telegram_api.webhook["url"] and "getUpdates" not in telegram_api.methods()


def test_poll_stores_updates_like_the_webhook_and_a_second_poll_adds_no_duplicates(
    env, telegram_api, sqlite_url, capsys
):
    main(["telegram", "set-webhook", "https://replyline.example.org"])
    telegram_api.queue_update(tu.text_update(42, 42, "question: 營業到幾點？"))
    telegram_api.queue_update(tu.text_update(-100555, 43, "question: group?"))
    args = ["telegram", "poll", "--delete-webhook", "--rounds", "1", "--timeout", "0"]
    assert main(args) == 0
    assert telegram_api.webhook == {}
    assert main(["telegram", "poll", "--rounds", "1", "--timeout", "0"]) == 0  # unconfirmed
    engine = make_engine(sqlite_url)
    assert [m.text for m in inbound(engine)] == ["question: 營業到幾點？", "question: group?"]
    assert all(m.state == "received" for m in inbound(engine))  # for `serve` to process
    engine.dispose()


def test_telegram_commands_say_when_telegram_is_off(env, capsys):
    env.delenv("REPLYLINE_TELEGRAM_BOT_TOKEN")
    get_settings.cache_clear()
    assert main(["telegram", "delete-webhook"]) == 2
    assert "REPLYLINE_TELEGRAM_BOT_TOKEN" in capsys.readouterr().err


def test_a_rejected_token_is_reported_without_the_token(env, capsys):
    wrong = "7000000001:AAWrongTokenWrongTokenWrongToken_123"
    env.setenv("REPLYLINE_TELEGRAM_BOT_TOKEN", wrong)
    get_settings.cache_clear()
    assert main(["telegram", "delete-webhook"]) == 2
    err = capsys.readouterr().err
    assert "rejected the bot token" in err and "AAWrongToken" not in err
