"""All settings in one object, grouped by job: `settings.telegram.bot_token`, `settings.web.port`.

Every REPLYLINE_* environment variable (or line of a `.env` file) is read here, and nowhere
else (nlp's own group reads itself in nlp/settings.py, since nlp never imports bot). The
variables keep the names they had before the groups: REPLYLINE_HOST is `settings.web.host`,
REPLYLINE_TELEGRAM_BOT_TOKEN is `settings.telegram.bot_token`. A bad value stops start-up with
a SettingsError naming the variable. Tests change settings with
`settings.updated(web={"port": 0})`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from nlp.settings import NlpSettings

LINE_API = "https://api.line.me"
LINE_CONTENT_API = "https://api-data.line.me"
PREFIX = "REPLYLINE_"


class SettingsError(ValueError):
    """Settings that cannot work; the text names each variable and what is wrong with it."""


def _split_list(value: object) -> object:
    """Entries separated by commas or new lines (or a JSON list) into a list."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [part.strip() for part in re.split(r"[,\n]", text) if part.strip()]
    return value


CommaList = Annotated[list[str], BeforeValidator(_split_list)]


def env(*names: str, **kwargs: Any) -> Any:
    """A field read from these variables (without REPLYLINE_; the first is the documented name,
    the others old names kept working)."""
    return Field(json_schema_extra={"env": list(names)}, **kwargs)


class Group(BaseModel):
    """A group of settings; a field reads REPLYLINE_<env_prefix><field> unless it names others."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)
    title: ClassVar[str] = ""
    env_prefix: ClassVar[str] = ""


def env_names(model: type[BaseModel], field: str) -> list[str]:
    """The variables a field is read from, the documented one first."""
    extra = model.model_fields[field].json_schema_extra
    names = extra.get("env") if isinstance(extra, dict) else None
    if not names:
        names = [f"{getattr(model, 'env_prefix', '')}{field}"]
    return [f"{PREFIX}{name}".upper() for name in names]  # type: ignore[union-attr]


def is_secret(model: type[BaseModel], field: str) -> bool:
    return "SecretStr" in str(model.model_fields[field].annotation)


class DatabaseSettings(Group):
    """Where messages, drafts, users and the audit log are kept."""

    title: ClassVar[str] = "Database"
    env_prefix: ClassVar[str] = "database_"

    url: str = Field(
        default="sqlite:///./replyline.db",
        description="SQLite file (WAL mode) or postgresql://user@host/db",
    )

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")


class WebSettings(Group):
    """The web app: where it listens, how people reach it, sign-in and request limits."""

    title: ClassVar[str] = "Web and console"

    host: str = Field(default="127.0.0.1", description="address `serve` listens on")
    port: int = Field(default=8000, ge=0, le=65535, description="port `serve` listens on")
    public_url: str = Field(
        default="",
        description="how people reach the console, for links in alerts (unset: http://HOST:PORT)",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="signs console sessions (unset: generated once and kept in the database)",
    )
    trusted_proxies: CommaList = Field(
        default_factory=lambda: ["127.0.0.1"],
        description="proxies whose X-Forwarded-For/-Proto count, comma-separated "
        "(addresses or networks; * for any)",
    )
    max_body_bytes: int = Field(
        default=256 * 1024, ge=1024, description="larger request bodies get 413"
    )
    max_text_chars: int = Field(
        default=5000, ge=1, description="longest message text accepted (characters)"
    )
    login_max_failures: int = Field(
        default=5, ge=1, description="failed sign-ins per username within the window"
    )
    login_max_failures_per_ip: int = Field(
        default=20, ge=1, description="failed sign-ins per client address within the window"
    )
    login_window_seconds: int = Field(
        default=900, ge=1, description="the window failed sign-ins are counted in (seconds)"
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="if set, /metrics wants 'Authorization: Bearer <token>'",
    )

    @property
    def base_url(self) -> str:
        return self.public_url.rstrip("/") or f"http://{self.host}:{self.port}"

    @property
    def console_url(self) -> str:
        return f"{self.base_url}/console"


class ChatSettings(Group):
    """The public web chat at /chat: how much one visitor or one address may post."""

    title: ClassVar[str] = "Web chat"
    env_prefix: ClassVar[str] = "chat_"

    max_posts_per_visitor: int = Field(
        default=10, ge=1, description="messages one visitor may post within the window"
    )
    max_posts_per_address: int = Field(
        default=30, ge=1, description="messages one network address may post within the window"
    )
    window_seconds: int = Field(
        default=60, ge=1, description="the window posts are counted in (seconds)"
    )


class RepliesSettings(Group):
    """Playbooks, automatic sending, acknowledgements and who hears about handoffs."""

    title: ClassVar[str] = "Replies and review"

    playbook_dir: Path | None = Field(
        default=None, description="your own playbooks (unset: playbooks/default)"
    )
    auto_send: bool = Field(
        default=False, description="allow automatic sending where a playbook permits it"
    )
    auto_send_min_confidence: float = Field(
        default=0.85, ge=0, le=1, description="and only above this classifier confidence"
    )
    acknowledge_automatically: bool = Field(
        default=True,
        description="handoff and after-hours acknowledgements go out on their own "
        "(even with automatic sending off)",
    )
    staff_notify: CommaList = Field(
        default_factory=list,
        description="staff chats told of handoffs, escalations and repeat trolls, "
        "comma-separated CHANNEL:ID (e.g. telegram:123,line:U…)",
    )
    sla_warning_minutes: int = Field(
        default=10,
        ge=0,
        description="queue items this close to their first-response target rise to the top",
    )


class PipelineSettings(Group):
    """The worker that classifies and drafts, and the outbox that sends."""

    title: ClassVar[str] = "Pipeline"

    worker_enabled: bool = Field(default=True, description="`serve` runs the pipeline worker")
    worker_process: bool | None = Field(
        default=None,
        description="the worker runs in a child process on its own core, so webhooks are "
        "answered without waiting for the model (unset: yes under `serve`, no in code)",
    )
    worker_nice: int = Field(
        default=10,
        ge=0,
        le=19,
        description="lower CPU priority for the pipeline: the worker child's, or the model "
        "thread's (0: off)",
    )
    worker_warm_up: bool = Field(
        default=True,
        description="the worker loads the model and FAQ index as it starts, in the background, "
        "so the first message does not wait for them",
    )
    worker_batch_size: int = Field(default=32, ge=1, description="messages classified at once")
    worker_poll_seconds: float = Field(
        default=1.0, gt=0, description="how often an idle worker looks for work (seconds)"
    )
    worker_gather_seconds: float = Field(
        default=0.05, ge=0, description="how long a burst may gather into one batch (seconds)"
    )
    message_max_attempts: int = Field(
        default=5, ge=1, description="attempts at processing a message before it is `failed`"
    )
    message_retry_seconds: float = Field(
        default=30.0, ge=0, description="wait after a failed attempt, doubling each time"
    )
    send_lease_seconds: float = Field(
        default=120.0,
        gt=0,
        description="how long a send is reserved for one worker (longer than any timeout)",
    )
    classifier: str = Field(
        default="model",
        description="'model' (the transformer), or 'package.module:Factory' for benchmarks",
    )


class PrivacySettings(Group):
    """How long message text is kept."""

    title: ClassVar[str] = "Privacy"

    retention_days: int | None = Field(
        default=None, ge=1, description="purge message text older than this (unset: keep)"
    )
    housekeeping_seconds: float = Field(
        default=3600.0, gt=0, description="how often the worker purges (seconds)"
    )


class CrisisSettings(Group):
    """Crisis detection and the alerts supervisors get until someone acknowledges."""

    title: ClassVar[str] = "Crisis alerts"
    env_prefix: ClassVar[str] = "crisis_"

    enabled: bool = Field(default=True, description="watch for crises and alert supervisors")
    supervisors: CommaList = env(
        "crisis_supervisors",
        "supervisors",
        default_factory=list,
        description="who gets alerts, comma-separated [TIER:]CHANNEL:ID "
        "(e.g. 1:telegram:123,2:line:Uabc)",
    )
    repeat_minutes: float = Field(
        default=5, gt=0, description="repeat an unacknowledged alert this often (minutes)"
    )
    escalate_minutes: float = Field(
        default=15, gt=0, description="then add the next tier of supervisors (minutes)"
    )
    signals_file: Path | None = Field(
        default=None, description="more severity phrases and prototypes (YAML)"
    )


class TelegramSettings(Group):
    """The Telegram adapter; it is on when the bot token is set."""

    title: ClassVar[str] = "Telegram"
    env_prefix: ClassVar[str] = "telegram_"

    bot_token: SecretStr | None = Field(
        default=None, description="the bot's token from @BotFather (unset: Telegram off)"
    )
    webhook_secret: SecretStr | None = Field(
        default=None,
        description="X-Telegram-Bot-Api-Secret-Token every webhook must carry "
        "(unset: webhooks refused)",
    )
    api_base: str = Field(
        default="https://api.telegram.org", description="the Bot API, or a local Bot API server"
    )
    staff_chat_id: str | None = Field(
        default=None, description="a chat where pending drafts are reviewed with buttons"
    )
    chat_interval_seconds: float = Field(
        default=1.0, ge=0, description="flood limit: seconds between messages to one chat"
    )
    group_per_minute: int = Field(
        default=20, ge=1, description="flood limit: messages per minute to one group"
    )
    global_per_second: int = Field(
        default=30, ge=1, description="flood limit: messages per second in all"
    )
    max_inline_wait_seconds: float = Field(
        default=1.5, ge=0, description="longer waits for the flood limits are retried later"
    )


class LineSettings(Group):
    """The LINE adapter; it is on when the channel secret and access token are set."""

    title: ClassVar[str] = "LINE"
    env_prefix: ClassVar[str] = "line_"

    channel_secret: SecretStr | None = Field(
        default=None, description="from the LINE Developers console (unset: LINE off)"
    )
    channel_access_token: SecretStr | None = Field(
        default=None, description="from the LINE Developers console (unset: LINE off)"
    )
    api_base: str = Field(
        default=LINE_API,
        description="the Messaging API; when changed it also serves the content endpoints",
    )
    # LINE honours a reply token for a minute after the webhook; counted from our commit, 50 s
    # leaves room for a slow ingest and the request itself (one LINE refuses is pushed anyway)
    reply_token_max_age_seconds: float = Field(
        default=50.0,
        gt=0,
        le=55,
        description="reply with the free reply token only this soon after the message; later, push",
    )
    loading_seconds: int = Field(
        default=20,
        ge=5,
        le=60,
        multiple_of=5,
        description="loading animation shown while an automatic reply is prepared",
    )
    profile_cache_seconds: float = Field(
        default=3600.0, ge=0, description="how long display names are cached"
    )

    @property
    def content_api_base(self) -> str:
        return LINE_CONTENT_API if self.api_base == LINE_API else self.api_base


class CalendarSettings(Group):
    """Timed jobs: planned posts, alert repeats and the monthly report."""

    title: ClassVar[str] = "Calendar and scheduler"

    scheduler_enabled: bool = Field(
        default=True, description="`serve` and `worker` compete to run timed jobs"
    )
    scheduler_retry_seconds: float = Field(
        default=5.0,
        gt=0,
        le=30,
        description="how often a follower checks whether the leader is still there",
    )
    post_grace_minutes: int = Field(
        default=30,
        ge=0,
        le=1440,
        description="a post due while replyline was down still goes out this late, "
        "else it is marked missed",
    )
    media_dir: Path = Field(
        default=Path("media"),
        description="uploaded post images, served publicly at /media/ for the platforms",
    )


class ReportsSettings(Group):
    """Engagement reports and the monthly summary."""

    title: ClassVar[str] = "Reports"

    first_response_target_minutes: int = Field(
        default=60, ge=1, description="reports measure first responses against this"
    )
    engagement_window_hours: int = Field(
        default=24, ge=1, le=168, description="replies and reactions counted after a post"
    )
    recipients: CommaList = env(
        "report_recipients",
        default_factory=list,
        description="who get last month's summary on the 1st, comma-separated CHANNEL:ID",
    )
    monthly_report_hour: int = Field(
        default=9, ge=0, le=23, description="the local hour that summary is sent"
    )


GROUPS: dict[str, type[Group] | type[NlpSettings]] = {
    "database": DatabaseSettings,
    "web": WebSettings,
    "chat": ChatSettings,
    "replies": RepliesSettings,
    "pipeline": PipelineSettings,
    "nlp": NlpSettings,
    "crisis": CrisisSettings,
    "telegram": TelegramSettings,
    "line": LineSettings,
    "calendar": CalendarSettings,
    "reports": ReportsSettings,
    "privacy": PrivacySettings,
}


class _Environment(PydanticBaseSettingsSource):
    """REPLYLINE_* variables from the environment over those in the .env file, each put in its
    group; only the names the fields declare are read, so other variables are ignored."""

    def __init__(self, settings_cls: type[BaseSettings], environ, dotenv) -> None:
        super().__init__(settings_cls)
        self._vars = {**dotenv.env_vars, **environ.env_vars}  # lower-cased names

    def get_field_value(self, field, field_name):  # pragma: no cover - __call__ does the work
        return None, field_name, False

    def _read(self, model: type[BaseModel], field: str) -> tuple[bool, Any]:
        for name in env_names(model, field):
            if name.lower() in self._vars:
                return True, self._vars[name.lower()]
        return False, None

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name in self.settings_cls.model_fields:
            group = GROUPS.get(name)
            if group is None:
                found, value = self._read(self.settings_cls, name)
                if found:
                    values[name] = value
                continue
            values[name] = {}
            for field in group.model_fields:
                found, value = self._read(group, field)
                if found:
                    values[name][field] = value
        return values


class Settings(BaseSettings):
    """Brand-wide settings at the top; everything else in its group (see GROUPS)."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="forbid", validate_assignment=True
    )
    title: ClassVar[str] = "Brand"
    purpose: ClassVar[str] = (
        "The brand's name, time zone and language; logging and the command line."
    )

    brand_name: str = Field(default="replyline", description="the brand's name, used in replies")
    timezone: str = Field(
        default="Asia/Taipei",
        description="the brand's time zone: calendar times, report days and hours, times shown",
    )
    language: str = Field(
        default="zh_Hant_TW",
        description="the console's language when neither the user's setting nor the browser "
        "picks one (zh_Hant_TW or en)",
    )
    log_json: bool = Field(default=False, description="one JSON object per log line")
    cli_user: str | None = env(
        "user", default=None, description="the console user command-line decisions are made as"
    )

    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    chat: ChatSettings = Field(default_factory=ChatSettings)
    replies: RepliesSettings = Field(default_factory=RepliesSettings)
    pipeline: PipelineSettings = Field(default_factory=PipelineSettings)
    nlp: NlpSettings = Field(default_factory=NlpSettings)
    crisis: CrisisSettings = Field(default_factory=CrisisSettings)
    telegram: TelegramSettings = Field(default_factory=TelegramSettings)
    line: LineSettings = Field(default_factory=LineSettings)
    calendar: CalendarSettings = Field(default_factory=CalendarSettings)
    reports: ReportsSettings = Field(default_factory=ReportsSettings)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)

    def __init__(self, **values: Any) -> None:
        _refuse_flat(values)
        try:
            super().__init__(**values)
        except ValidationError as error:
            raise SettingsError(describe(error)) from None

    @classmethod
    def settings_customise_sources(
        cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, _Environment(settings_cls, env_settings, dotenv_settings))

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("not a time zone name (e.g. Asia/Taipei)") from None
        return value

    def updated(self, **changes: Any) -> Settings:
        """A validated copy with some values changed; a group's dict changes only the fields it
        names: `settings.updated(web={"port": 0}, brand_name="Tea House")`."""
        _refuse_flat(changes)
        data = self.model_dump()  # a copy: the groups of the two are not shared
        for name, value in changes.items():
            if name in GROUPS and isinstance(value, dict):
                value = data[name] | value
            data[name] = value
        try:
            return type(self).model_validate(data)
        except ValidationError as error:
            raise SettingsError(describe(error)) from None

    def model_copy(
        self, *, update: Mapping[str, Any] | None = None, deep: bool = False
    ) -> Settings:
        """Copies with changes go through `updated` (validated, old flat names refused)."""
        if update:
            return self.updated(**update)
        return super().model_copy(deep=deep)


FLAT_NAMES: dict[str, tuple[str, str]] = {
    variable.removeprefix(PREFIX).lower(): (name, field)
    for name, group in GROUPS.items()
    for field in group.model_fields
    for variable in env_names(group, field)
}
"""Old flat attribute names (the variables' names) → (group, field)."""


def _refuse_flat(values: dict[str, Any]) -> None:
    wrong = [key for key in values if key in FLAT_NAMES and key not in Settings.model_fields]
    if wrong:
        moved = ", ".join(
            f"{key} is now {FLAT_NAMES[key][0]}.{FLAT_NAMES[key][1]}" for key in wrong
        )
        example = FLAT_NAMES[wrong[0]]
        raise TypeError(
            f"settings are grouped: {moved}; write e.g. {example[0]}={{{example[1]!r}: ...}}"
        )


def describe(error: ValidationError) -> str:
    """One line per problem, naming the variable; a secret's value is never repeated."""
    lines = []
    for problem in error.errors():
        loc = [str(part) for part in problem["loc"]]
        model: type[BaseModel] = Settings
        if len(loc) >= 2 and loc[0] in GROUPS:
            model = GROUPS[loc[0]]
            loc = loc[1:]
        field = loc[0] if loc else ""
        if model is Settings and field in GROUPS:
            where, shown = f"settings.{field}", ""
        elif field in model.model_fields:
            where = env_names(model, field)[0]
            shown = "" if is_secret(model, field) else f" (got {problem.get('input')!r:.80})"
        else:
            where = ".".join(str(part) for part in problem["loc"])
            shown = ""
        message = problem["msg"].removeprefix("Value error, ")
        if problem["type"] == "extra_forbidden":
            message = "no such setting"
        lines.append(f"{where}: {message}{shown}")
    return "bad settings: " + "; ".join(lines)


@dataclass(frozen=True)
class Shown:
    """One setting as the console's Settings page shows it."""

    variable: str
    value: str  # "" when `state` says it all
    meaning: str
    old_names: tuple[str, ...] = ()
    state: str = "value"  # or "set", "not set", "none" (an empty list): words the page translates


def overview(settings: Settings) -> list[tuple[str, str, list[Shown]]]:
    """Each group's title, what it is for and its settings: secrets only say whether they are
    set (by type, so numbers are never hidden), a database password is masked."""
    sections: list[tuple[type[Settings] | type[Group] | type[NlpSettings], BaseModel]] = [
        (Settings, settings),
        *((group, getattr(settings, name)) for name, group in GROUPS.items()),
    ]
    result = []
    for model, values in sections:
        rows = []
        for field, info in model.model_fields.items():
            if field in GROUPS and model is Settings:
                continue
            variable, *old = env_names(model, field)
            value = getattr(values, field)
            state, shown = _shown(model, field, value)
            rows.append(Shown(variable, shown, info.description or "", tuple(old), state))
        purpose = getattr(model, "purpose", None) or (model.__doc__ or "").strip()
        result.append((model.title, purpose, rows))
    return result


def _shown(model: type[BaseModel], field: str, value: Any) -> tuple[str, str]:
    """(state, value): a secret, an unset value or an empty list is told by its state alone."""
    if is_secret(model, field):
        return ("set" if value else "not set"), ""
    if value is None:
        return "not set", ""
    if isinstance(value, bool):
        return "value", "true" if value else "false"
    if isinstance(value, list):
        return ("value", ", ".join(str(item) for item in value)) if value else ("none", "")
    if model is DatabaseSettings and field == "url":
        return "value", hide_password(value)
    return "value", str(value)


def hide_password(url: str) -> str:
    scheme, _, rest = url.partition("://")
    credentials, _, host = rest.rpartition("@")
    username = credentials.split(":", 1)[0]
    return f"{scheme}://{username}:***@{host}" if ":" in credentials else url


@lru_cache
def get_settings() -> Settings:
    return Settings()
