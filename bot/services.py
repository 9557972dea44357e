"""Services: everything a running replyline needs, built once from settings.

The web app, the worker and the CLI share one `Services` (engine, channels, pipeline, outbox,
worker, scheduler)."""

from __future__ import annotations

import asyncio
import importlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache, partial

from sqlalchemy.engine import Engine

from bot import state
from bot.config import Settings
from bot.crisis.alerts import ACK_PREFIX, on_ack_press
from bot.crisis.monitor import CrisisMonitor
from bot.delivery.outbox import Outbox
from bot.i18n import configure as configure_i18n
from bot.pipeline.model_thread import ModelThread
from bot.pipeline.process import Pipeline
from bot.pipeline.redrafts import redraft_corrected
from bot.pipeline.worker import Worker
from bot.privacy.contacts import purge_expired_text
from bot.review.actions import Handler
from bot.review.notices import NoticePusher
from bot.review.staff_review import on_draft_button, on_staff_reply, staff_review
from bot.scheduler import Scheduler
from bot.state import StateVersions
from db.engine import make_engine
from handlers.base import Channel
from handlers.registry import build_channels
from nlp.types import Classifier
from playbooks.engine import Playbooks
from playbooks.faq import encoder_embed

# Every button replyline makes, by the prefix of its data (bot/review/actions.py dispatches):
# review decisions and edits from the Telegram staff chat, acknowledging a crisis alert.
ACTIONS: dict[str, Handler] = {
    "draft": on_draft_button,
    "reply": on_staff_reply,
    ACK_PREFIX: on_ack_press,
}


@dataclass
class Services:
    settings: Settings
    engine: Engine
    channels: dict[str, Channel]
    pipeline: Pipeline
    outbox: Outbox
    worker: Worker
    scheduler: Scheduler
    versions: StateVersions  # shared state this process caches, reloaded when others change it
    actions: dict[str, Handler] = field(default_factory=lambda: dict(ACTIONS))  # button presses

    @classmethod
    def build(
        cls, settings: Settings, classifier: Callable[[], Classifier] | None = None
    ) -> Services:
        configure_i18n(settings.language, settings.timezone)  # staff messages, CLI output
        engine = make_engine(settings.database.url)
        versions = StateVersions(engine)
        versions.watch(state.PLAYBOOKS, lambda: services.reload_playbooks())  # before loading
        channels = build_channels(settings)
        pipeline = Pipeline(
            engine=engine,
            classifier=classifier or model_classifier(settings),
            playbooks=load_playbooks(settings),
            brand=settings.brand_name,
            auto_send=settings.replies.auto_send,
            auto_send_min_confidence=settings.replies.auto_send_min_confidence,
            acknowledge=settings.replies.acknowledge_automatically,
            max_attempts=settings.pipeline.message_max_attempts,
            retry_seconds=settings.pipeline.message_retry_seconds,
            model_thread=ModelThread(
                0 if settings.pipeline.worker_process else settings.pipeline.worker_nice
            ),
            names_later=frozenset(n for n, c in channels.items() if c.names_later),
        )
        monitor = None
        if settings.crisis.enabled:
            monitor = CrisisMonitor.build(settings, engine, redrafts=True)
            monitor.channels = channels
            pipeline.hooks.append(monitor)

        outbox = Outbox(engine, channels, lease_seconds=settings.pipeline.send_lease_seconds)
        worker = Worker(
            pipeline,
            outbox,
            settings.pipeline.worker_batch_size,
            settings.pipeline.worker_poll_seconds,
        )
        if monitor is not None:  # an incident opened in a round is alerted in that round
            worker.jobs.append(monitor.send_opened)
        # the drafting of the moment: the playbooks may have been reloaded since the last round
        worker.jobs.append(
            lambda: asyncio.to_thread(redraft_corrected, engine, pipeline.drafting())
        )
        worker.refresh = versions.check  # what another process changed, before each round
        staff = staff_review(engine, channels, settings.telegram.staff_chat_id)
        if staff:  # pending drafts are also reviewed from the Telegram staff chat
            worker.jobs.append(staff.run_once)
        notices = NoticePusher(
            engine, channels, settings.replies.staff_notify, settings.web.console_url
        )
        worker.jobs.append(notices.push_due)
        worker.gather_seconds = settings.pipeline.worker_gather_seconds
        if settings.privacy.retention_days:
            worker.housekeeping = partial(
                purge_expired_text, engine, settings.privacy.retention_days
            )
            worker.housekeeping_seconds = settings.privacy.housekeeping_seconds
        scheduler = Scheduler(
            settings.database.url, retry_seconds=settings.calendar.scheduler_retry_seconds
        )
        services = cls(settings, engine, channels, pipeline, outbox, worker, scheduler, versions)
        scheduler.context = services
        return services

    def reload_playbooks(self, fresh: Playbooks | None = None) -> Playbooks:
        """Use the playbook folder as it is now (or `fresh`, loaded from it already): the
        playbooks, brand and FAQ that drafts come from and the crisis playbook. A broken file
        raises PlaybookError and leaves what runs in place."""
        fresh = fresh or load_playbooks(self.settings)
        if self.crisis is not None:
            self.crisis.reload(self.settings)
        self.pipeline.playbooks = fresh
        return fresh

    @property
    def crisis(self) -> CrisisMonitor | None:
        """Crisis detection, when it is on (it rides on the pipeline as a hook)."""
        return next((h for h in self.pipeline.hooks if isinstance(h, CrisisMonitor)), None)


def load_playbooks(settings: Settings) -> Playbooks:
    """The brand's playbook folder (or the defaults), with FAQ search on the shared encoder."""
    return Playbooks.load(
        settings.replies.playbook_dir, embed=encoder_embed(settings.nlp), timezone=settings.timezone
    )


def model_classifier(settings: Settings) -> Callable[[], Classifier]:
    """The transformer classifier, loaded on first use so start-up stays fast.
    REPLYLINE_CLASSIFIER="package.module:Factory" loads another one instead (benchmarks and
    tests use tests.support:ScriptedClassifier to measure the pipeline without the model)."""

    lock = threading.Lock()  # the worker's warm-up and its first message may both ask

    @cache
    def build() -> Classifier:
        if ":" in settings.pipeline.classifier:
            module, _, name = settings.pipeline.classifier.partition(":")
            return getattr(importlib.import_module(module), name)()
        from nlp.classifier import load_classifier

        return load_classifier(settings=settings.nlp)

    def load() -> Classifier:
        with lock:
            return build()

    return load
