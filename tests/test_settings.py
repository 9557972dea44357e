"""One settings object: REPLYLINE_* variables land in their groups, lists are parsed, old names
still work, bad values name their variable, and secrets never show."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.config import FLAT_NAMES, GROUPS, Settings, SettingsError, env_names, overview
from bot.logs import register_settings_secrets
from handlers.redact import redact
from nlp.settings import NlpSettings

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "7312945601:AAHk3v9QpZrT5xLmN2bWcYd8EfGhJkL0pQs"


@pytest.fixture
def environ(monkeypatch):
    """Set REPLYLINE_* variables for one test (and none left over from the shell)."""
    import os

    for name in list(os.environ):
        if name.startswith("REPLYLINE_"):
            monkeypatch.delenv(name)

    def put(**values: str) -> None:
        for name, value in values.items():
            monkeypatch.setenv(f"REPLYLINE_{name.upper()}", value)

    return put


def test_variables_land_in_their_groups(environ):
    environ(
        database_url="postgresql://app:pw@db/replyline",
        port="9000",
        telegram_bot_token=TOKEN,
        line_reply_token_max_age_seconds="12.5",
        chat_window_seconds="30",
        auto_send="true",
        worker_process="false",
        crisis_enabled="false",
        encoder="/models/e5",
        torch_threads="3",
        timezone="Europe/London",
        user="mei",
    )
    settings = Settings(_env_file=None)
    assert settings.database.url == "postgresql://app:pw@db/replyline"
    assert not settings.database.is_sqlite
    assert settings.web.port == 9000 and settings.web.console_url == "http://127.0.0.1:9000/console"
    assert settings.telegram.bot_token.get_secret_value() == TOKEN
    assert settings.line.reply_token_max_age_seconds == 12.5
    assert settings.chat.window_seconds == 30
    assert settings.replies.auto_send is True
    assert settings.pipeline.worker_process is False
    assert settings.crisis.enabled is False
    assert settings.nlp.encoder == "/models/e5" and settings.nlp.torch_threads == 3
    assert settings.timezone == "Europe/London" and settings.cli_user == "mei"


def test_a_dotenv_file_is_read_and_the_environment_wins(environ, tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text("REPLYLINE_BRAND_NAME=Tea House\nREPLYLINE_PORT=8100\nOTHER=1\n")
    environ(port="8200")
    settings = Settings(_env_file=dotenv)
    assert settings.brand_name == "Tea House" and settings.web.port == 8200


def test_comma_lists_are_parsed_by_the_settings(environ):
    environ(
        staff_notify="telegram:1, line:U2,,",
        report_recipients="telegram:42\nline:Uabc",
        trusted_proxies='["10.0.0.0/8", "127.0.0.1"]',
        crisis_supervisors="1:telegram:111, 2:line:Uaaa",
    )
    settings = Settings(_env_file=None)
    assert settings.replies.staff_notify == ["telegram:1", "line:U2"]
    assert settings.reports.recipients == ["telegram:42", "line:Uabc"]
    assert settings.web.trusted_proxies == ["10.0.0.0/8", "127.0.0.1"]
    assert settings.crisis.supervisors == ["1:telegram:111", "2:line:Uaaa"]
    assert Settings(_env_file=None, reports={"recipients": ""}).reports.recipients == []


def test_old_variable_names_still_work_and_the_new_one_wins(environ):
    environ(supervisors="1:telegram:5")
    assert Settings(_env_file=None).crisis.supervisors == ["1:telegram:5"]
    environ(crisis_supervisors="1:line:U7")
    assert Settings(_env_file=None).crisis.supervisors == ["1:line:U7"]
    assert env_names(GROUPS["crisis"], "supervisors") == [
        "REPLYLINE_CRISIS_SUPERVISORS",
        "REPLYLINE_SUPERVISORS",
    ]


def test_every_variable_name_is_unique():
    names = [name for group in GROUPS.values() for f in group.model_fields for name in
             env_names(group, f)] + [env_names(Settings, f)[0] for f in Settings.model_fields
                                     if f not in GROUPS]  # fmt: skip
    assert len(names) == len(set(names))


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("port", "eighty", "REPLYLINE_PORT"),
        ("auto_send_min_confidence", "2", "REPLYLINE_AUTO_SEND_MIN_CONFIDENCE"),
        ("timezone", "Mars/Olympus", "REPLYLINE_TIMEZONE"),
        ("line_loading_seconds", "7", "REPLYLINE_LINE_LOADING_SECONDS"),
        ("quantize", "int4", "REPLYLINE_QUANTIZE"),
        ("worker_enabled", "perhaps", "REPLYLINE_WORKER_ENABLED"),
    ],
)
def test_a_bad_value_names_its_variable(environ, variable, value, named):
    environ(**{variable: value})
    with pytest.raises(SettingsError, match=re.escape(named)) as raised:
        Settings(_env_file=None)
    assert repr(value) in str(raised.value)


def test_a_bad_secret_is_named_but_never_repeated():
    with pytest.raises(SettingsError, match="REPLYLINE_TELEGRAM_BOT_TOKEN") as raised:
        Settings(_env_file=None, telegram={"bot_token": ["not", TOKEN]})
    assert TOKEN not in str(raised.value)


def test_bad_settings_stop_the_command_with_a_clear_message(environ, capsys):
    from bot.cli import main

    environ(port="eighty", database_url="sqlite:///:memory:")
    from bot.config import get_settings

    get_settings.cache_clear()
    try:
        assert main(["drafts", "list"]) == 2
    finally:
        get_settings.cache_clear()
    error = capsys.readouterr().err
    assert "REPLYLINE_PORT" in error and "valid integer" in error and "Traceback" not in error


def test_old_flat_keywords_are_refused_with_the_new_place():
    with pytest.raises(TypeError, match=r"database_url is now database\.url"):
        Settings(_env_file=None, database_url="sqlite://")
    settings = Settings(_env_file=None)
    with pytest.raises(TypeError, match=r"worker_enabled is now pipeline\.worker_enabled"):
        settings.updated(worker_enabled=False)
    with pytest.raises(TypeError, match=r"supervisors is now crisis\.supervisors"):
        settings.model_copy(update={"supervisors": "1:telegram:1"})
    with pytest.raises(SettingsError, match="no such setting"):
        settings.updated(web={"colour": "red"})
    assert set(FLAT_NAMES) >= {"telegram_bot_token", "database_url", "report_recipients"}


def test_updated_changes_only_what_it_names_and_validates(environ):
    environ(host="0.0.0.0")
    settings = Settings(_env_file=None)
    changed = settings.updated(web={"port": 0}, brand_name="Tea House")
    assert (changed.web.host, changed.web.port, changed.brand_name) == ("0.0.0.0", 0, "Tea House")
    assert settings.web.port == 8000 and settings.brand_name == "replyline"
    changed.web.port = 1
    assert settings.web.port == 8000  # the copy's groups are its own
    with pytest.raises(SettingsError, match="REPLYLINE_PORT"):
        settings.updated(web={"port": -1})
    with pytest.raises(ValueError, match="port"):
        settings.web.port = "eighty"  # assignments are checked too


def test_secrets_never_show_in_repr_dumps_or_logs(caplog):
    settings = Settings(
        _env_file=None,
        database={"url": "postgresql://app:db-password-123@db/replyline"},
        web={"secret_key": "console-signing-key-9f8e", "metrics_token": "metrics-token-77"},
        telegram={"bot_token": TOKEN, "webhook_secret": "hook-secret-4d5e"},
        line={"channel_secret": "line-secret-8c1f", "channel_access_token": "line-token-Zk9p"},
    )
    secrets = [TOKEN, "console-signing-key-9f8e", "metrics-token-77", "hook-secret-4d5e",
               "line-secret-8c1f", "line-token-Zk9p"]  # fmt: skip
    for text in (repr(settings), str(settings), settings.model_dump_json()):
        assert not any(secret in text for secret in secrets)
    register_settings_secrets(settings)
    logging.getLogger("test").warning("settings %s, url %s", settings, settings.database.url)
    logged = redact(caplog.text)
    assert not any(secret in logged for secret in [*secrets, "db-password-123"])


def test_the_overview_groups_explains_and_masks_only_secrets():
    settings = Settings(
        _env_file=None,
        database={"url": "postgresql://app:db-password-123@db/replyline"},
        telegram={"bot_token": TOKEN},
        line={"reply_token_max_age_seconds": 20},
        replies={"staff_notify": "telegram:1,line:U2"},
    )
    sections = {title: rows for title, _, rows in overview(settings)}
    assert {"Brand", "Database", "Telegram", "LINE", "Classifier (nlp)", "Crisis alerts"} <= set(
        sections
    )
    shown = {row.variable: row for rows in sections.values() for row in rows}
    assert (
        shown["REPLYLINE_TELEGRAM_BOT_TOKEN"].state,
        shown["REPLYLINE_TELEGRAM_BOT_TOKEN"].value,
    ) == ("set", "")
    assert shown["REPLYLINE_TELEGRAM_WEBHOOK_SECRET"].state == "not set"
    assert shown["REPLYLINE_LINE_REPLY_TOKEN_MAX_AGE_SECONDS"].value == "20.0"  # a number
    assert shown["REPLYLINE_DATABASE_URL"].value == "postgresql://app:***@db/replyline"
    assert shown["REPLYLINE_STAFF_NOTIFY"].value == "telegram:1, line:U2"
    assert shown["REPLYLINE_CRISIS_SUPERVISORS"].old_names == ("REPLYLINE_SUPERVISORS",)
    assert all(row.meaning for row in shown.values())


def test_nlp_reads_its_own_group_without_the_bot():
    environ = {"REPLYLINE_HEADS_DIR": "/heads", "REPLYLINE_DATA_DIRS": "/a:/b", "REPLYLINE_X": "1"}
    nlp = NlpSettings.from_env(environ)
    assert nlp.heads_dir == Path("/heads") and nlp.data_dirs == [Path("/a"), Path("/b")]
    assert nlp.updated(encoder="e5", model_dir=None).encoder == "e5"


def test_no_module_reads_a_replyline_variable_but_the_settings():
    reads = re.compile(r"(environ(\.get)?\(|getenv\(|environ\[)\s*[\"']REPLYLINE_")
    allowed = {ROOT / "bot" / "config.py", ROOT / "nlp" / "settings.py"}
    found = [
        str(path.relative_to(ROOT))
        for package in ("bot", "handlers", "nlp", "playbooks", "db")
        for path in (ROOT / package).rglob("*.py")
        if path not in allowed and reads.search(path.read_text(encoding="utf-8"))
    ]
    assert found == []


def test_secret_fields_are_secret_strings():
    secret_like = [
        (name, field)
        for name, group in GROUPS.items()
        for field in group.model_fields
        if re.search(r"secret|token$|_key$", field)
    ]
    for name, field in secret_like:
        value = GROUPS[name].model_fields[field].annotation
        assert SecretStr in getattr(value, "__args__", (value,)), f"{name}.{field}"


def test_every_group_and_meaning_on_the_settings_page_has_a_chinese_translation():
    from babel.messages.pofile import read_po

    from bot.i18n.catalog import catalogue_files

    known = set()
    for path in catalogue_files("zh_Hant_TW"):
        with path.open("rb") as source:
            known |= {message.id for message in read_po(source) if message.id and message.string}
    texts = {text for title, purpose, rows in overview(Settings(_env_file=None))
             for text in (title, purpose, *(row.meaning for row in rows))}  # fmt: skip
    assert sorted(texts - known) == []
