"""All settings in one place: environment variables prefixed REPLYLINE_ and an optional .env."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

LINE_API = "https://api.line.me"
LINE_CONTENT_API = "https://api-data.line.me"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="REPLYLINE_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: str = "sqlite:///./replyline.db"
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str = ""  # how users reach the console, for links in alerts; defaults to host:port
    secret_key: SecretStr | None = None  # signs console sessions; generated and stored if unset
    brand_name: str = "replyline"
    timezone: str = "Asia/Taipei"
    # the console's language when neither the user nor the browser chooses one (bot/i18n)
    language: str = "zh_Hant_TW"

    # NLP
    model_dir: Path | None = None  # where the converted encoder is cached
    encoder: str | None = None  # another transformers model directory or hub name
    classifier: str = "model"  # "model" (the transformer); "module:Factory" for benchmarks

    # Playbooks and sending policy
    playbook_dir: Path | None = None
    auto_send: bool = False
    auto_send_min_confidence: float = Field(default=0.85, ge=0, le=1)

    # Playbooks and review (playbooks area): acknowledgements (handoff, after hours) go out on
    # their own even with auto_send off; staff_notify lists staff chats for handoffs and
    # escalations, comma-separated "<channel>:<id>"; sla_warning_minutes marks items whose
    # first-response target is this close
    acknowledge_automatically: bool = True
    staff_notify: str = ""
    sla_warning_minutes: int = Field(default=10, ge=0)

    @property
    def staff_recipients(self) -> list[str]:
        return [r.strip() for r in self.staff_notify.split(",") if r.strip()]

    # Crisis detection and supervisor alerts (bot/crisis)
    crisis_enabled: bool = True
    supervisors: str = ""  # "[TIER:]CHANNEL:ID, ..." e.g. "1:telegram:123,2:line:Uabc"
    crisis_repeat_minutes: float = Field(default=5, gt=0)  # repeat unacknowledged alerts
    crisis_escalate_minutes: float = Field(default=15, gt=0)  # then add the next tier
    crisis_signals_file: Path | None = None  # more severity phrases and prototypes (YAML)

    # Limits
    max_body_bytes: int = 256 * 1024
    max_text_chars: int = 5000

    # Pipeline
    worker_enabled: bool = True  # `serve` runs the pipeline worker
    # ... in a child process, on its own core, so webhooks are answered without waiting for it;
    # unset: yes under `replyline serve`, no in an app built in code (tests, embedding)
    worker_process: bool | None = None
    # lower CPU priority for the pipeline: the worker child's, or in-process the model thread's
    worker_nice: int = Field(default=10, ge=0, le=19)
    worker_batch_size: int = 32
    worker_poll_seconds: float = 1.0

    # Adapters: Telegram and LINE (handlers/telegram.py, handlers/line.py); a channel without
    # credentials is off
    telegram_bot_token: SecretStr | None = None
    telegram_webhook_secret: SecretStr | None = None  # X-Telegram-Bot-Api-Secret-Token
    telegram_api_base: str = "https://api.telegram.org"  # or a local Bot API server
    telegram_staff_chat_id: str | None = None  # pending drafts are reviewed from this chat
    telegram_chat_interval_seconds: float = Field(default=1.0, ge=0)  # per chat
    telegram_group_per_minute: int = Field(default=20, ge=1)
    telegram_global_per_second: int = Field(default=30, ge=1)
    telegram_max_inline_wait_seconds: float = Field(default=1.5, ge=0)  # longer: retry later
    line_channel_secret: SecretStr | None = None
    line_channel_access_token: SecretStr | None = None
    line_api_base: str = LINE_API  # when changed, it also serves the content endpoints
    line_reply_token_max_age_seconds: float = Field(default=30.0, gt=0, le=55)
    line_loading_seconds: int = Field(default=20, ge=5, le=60, multiple_of=5)
    line_profile_cache_seconds: float = Field(default=3600.0, ge=0)
    # Scheduler, content calendar and reports (calendar)
    scheduler_enabled: bool = True  # `serve` and `worker` compete to run scheduled jobs
    scheduler_retry_seconds: float = Field(default=5.0, gt=0, le=30)  # leader check/takeover
    post_grace_minutes: int = Field(default=30, ge=0, le=1440)  # late posts still go out within
    media_dir: Path = Path("media")  # uploaded post images, served publicly at /media/
    engagement_window_hours: int = Field(default=24, ge=1, le=168)  # replies counted after a post
    first_response_target_minutes: int = Field(default=60, ge=1)  # reports measure against this
    report_recipients: str = ""  # "<channel>:<id>,..." who get the monthly report on the 1st
    monthly_report_hour: int = Field(default=9, ge=0, le=23)  # local time of that message

    @property
    def report_recipient_list(self) -> list[str]:
        return [r.strip() for r in self.report_recipients.split(",") if r.strip()]

    # Reliability, security, privacy and observability (issue 8)
    trusted_proxies: str = "127.0.0.1"  # proxies whose X-Forwarded-For/-Proto count; "*": any
    log_json: bool = False  # one JSON object per log line
    login_max_failures: int = Field(default=5, ge=1)  # per username within the window
    login_max_failures_per_ip: int = Field(default=20, ge=1)  # per client address
    login_window_seconds: int = Field(default=900, ge=1)
    send_lease_seconds: float = Field(default=120.0, gt=0)  # longer than any channel timeout
    retention_days: int | None = Field(default=None, ge=1)  # purge message text older than this
    housekeeping_seconds: float = Field(default=3600.0, gt=0)  # how often the worker purges
    worker_gather_seconds: float = Field(default=0.05, ge=0)  # let a burst gather into a batch
    metrics_token: SecretStr | None = None  # if set, /metrics wants "Authorization: Bearer ..."
    message_max_attempts: int = Field(default=5, ge=1)  # then a message is marked `failed`
    message_retry_seconds: float = Field(default=30.0, ge=0)  # backoff after a failure, doubling

    # The public web chat (issue 16): posts per visitor and per address within the window
    chat_max_posts_per_visitor: int = Field(default=10, ge=1)
    chat_max_posts_per_address: int = Field(default=30, ge=1)
    chat_window_seconds: int = Field(default=60, ge=1)

    @property
    def base_url(self) -> str:
        return self.public_url.rstrip("/") or f"http://{self.host}:{self.port}"

    @property
    def console_url(self) -> str:
        return f"{self.base_url}/console"

    @property
    def line_content_api_base(self) -> str:
        return LINE_CONTENT_API if self.line_api_base == LINE_API else self.line_api_base

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
