"""Crisis detection in a running replyline: the pipeline hook that feeds classified messages to
the detector, turns its signals into incidents and alerts, and gives messages in an open
incident the crisis playbook (holding statements a supervisor must approve).

It runs in the process that runs the pipeline worker. On SQLite (one process per database)
the detector sees each batch as it is processed. On PostgreSQL several processes may share
the work: each checks the messages it processed for single-message signals, and one of them
runs the window tests on the feed of every process's messages (bot/crisis/shared.py). The
detector learns the baseline from the stored history on its first round; the worker's idle
rounds let it evaluate the windows every few seconds even when no message arrives, so
persistence is judged on time, not traffic.

A message is embedded once: the classifier's sentence embedding is reused when it is the kind
the detector uses (same encoder, "query: " prefix); the Embedder embeds only what has none."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Collection
from datetime import datetime, timedelta

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.config import Settings
from bot.crisis import alerts, incidents, shared
from bot.crisis.detector import Detector, DetectorConfig
from bot.crisis.lexicon import Lexicon
from bot.crisis.playbook import HoldingStatements
from bot.crisis.signals import Observation, Signal, is_negative
from bot.pipeline.drafting import next_ranks, redraft
from bot.scheduler import Leadership, PostgresLeadership
from db.engine import session_scope
from db.enums import DraftStatus, MessageState
from db.models import Contact, Conversation, CrisisFeed, Draft, Incident, Message
from db.types import utcnow
from handlers.base import Channel
from nlp.types import Classification
from playbooks.engine import DraftCandidate

log = logging.getLogger(__name__)
TICK_SECONDS = 10  # evaluate at least this often, also when no message arrives
SHARED_SECONDS = 2  # on PostgreSQL: read the feed and evaluate at most this often
RECENT_VECTORS = 300  # recent messages embedded at start-up for the topic history


class Embedder:
    """Unit embeddings from the shared encoder (nlp.encoder), loaded on first use. Without an
    encoder, detection goes on with phrases and counts only.

    `model` names the encoder whose "query: " embeddings are interchangeable with these: a
    classification carrying such an embedding (`Classification.embedding`) is not embedded
    again. Built from settings it is the configured encoder; with an `embed` function of
    unknown origin, nothing is reused unless `model` says so."""

    def __init__(
        self,
        embed: Callable[[list[str]], np.ndarray] | None = None,
        settings=None,
        model: str | None = None,
    ):
        self._embed = embed
        self._settings = settings
        self._failed = False
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        if model is None and embed is None:
            from nlp.encoder import configured_name

            model = configured_name(settings)
        self.model = model

    def __call__(self, texts: list[str]) -> np.ndarray | None:
        if self._embed is None and not self._failed:
            try:
                from nlp.encoder import get_encoder

                encoder = get_encoder(self._settings)
                self._embed = lambda t: encoder.embed(t, prefix="query: ")
            except Exception:  # no model here: phrases and counts still work
                log.exception("crisis detection runs without embeddings: encoder unavailable")
                self._failed = True
        if self._embed is None or not texts:
            return None
        return np.asarray(self._embed(texts), dtype=np.float32)

    def given(self, result: Classification | None) -> np.ndarray | None:
        """The classifier's embedding of the message, if it is the kind used here."""
        if result is None or result.embedding is None:
            return None
        if not self.model or result.embedding_model != self.model:
            return None
        return np.asarray(result.embedding, dtype=np.float32)

    def known(self, message: Message, result: Classification | None) -> np.ndarray | None:
        """The message's embedding if it is at hand (given or embedded before); never embeds."""
        vector = self.given(result)
        return vector if vector is not None else self._cache.get(_stored_id(message))

    def for_messages(
        self,
        messages: list[Message],
        results: list[Classification | None] | None = None,
        known: dict[int, np.ndarray] | None = None,
    ) -> list[np.ndarray | None]:
        """Embeddings of messages, remembered by message id (a message is embedded once):
        the classifier's where `results` carry them, else those `known` by message id, else
        embedded here (the text as the classifier saw it, without surrounding blanks)."""
        found: dict[int, np.ndarray] = {}
        ids = [_stored_id(m) for m in messages]
        for i, message_id in enumerate(ids):
            vector = self._cache.get(message_id)
            if vector is None and results is not None:
                vector = self.given(results[i])
            if vector is None and known:
                vector = known.get(message_id)
            if vector is not None:
                found[message_id] = vector
        missing = [
            (message_id, (m.text or "").strip())
            for message_id, m in zip(ids, messages, strict=True)
            if message_id not in found and (m.text or "").strip()
        ]
        vectors = self([text for _, text in missing]) if missing else None
        if vectors is not None:
            found.update(zip((message_id for message_id, _ in missing), vectors, strict=True))
        for message_id, vector in found.items():
            self._remember(message_id, vector)
        return [found.get(message_id) for message_id in ids]

    def _remember(self, message_id: int, vector: np.ndarray) -> None:
        self._cache[message_id] = vector
        while len(self._cache) > 2000:
            self._cache.popitem(last=False)


class CrisisMonitor:
    def __init__(
        self,
        engine: Engine,
        detector: Detector,
        policy: alerts.AlertPolicy,
        holding: HoldingStatements,
        embedder: Embedder,
        brand: str = "replyline",
        leadership: Leadership | None = None,
    ):
        self.engine = engine
        self.detector = detector
        self.policy = policy
        self.holding = holding
        self.embedder = embedder
        self.brand = brand
        self.redrafts = False  # Services turns it on: messages that join an incident are redrafted
        self.channels: dict[str, Channel] | None = None  # set by Services: alerts what it opens
        self.scheduler = None  # the shared job table, once this process opened it (install)
        self._to_alert: list[int] = []  # incidents opened here whose first round is owed
        # With a leadership (PostgreSQL) processes share the work: see bot/crisis/shared.py.
        self.leader = shared.Leader(leadership) if leadership is not None else None
        self.clock: Callable[[], datetime] = utcnow
        self._lock = threading.RLock()
        self._started = False
        self._last_evaluation: datetime | None = None

    @classmethod
    def build(
        cls, settings: Settings, engine: Engine, redrafts: bool = False, embed=None
    ) -> CrisisMonitor:
        lexicon, holding = load_brand_files(settings)
        policy = alerts.AlertPolicy(
            supervisors=alerts.parse_supervisors(settings.crisis.supervisors),
            repeat=timedelta(minutes=settings.crisis.repeat_minutes),
            escalate=timedelta(minutes=settings.crisis.escalate_minutes),
            console_url=settings.web.console_url,
        )
        detector = Detector(DetectorConfig(timezone=settings.timezone), lexicon)
        leadership = None
        if engine.dialect.name == "postgresql":
            leadership = PostgresLeadership(settings.database.url, shared.LOCK_NAME)
        monitor = cls(
            engine,
            detector,
            policy,
            holding,
            Embedder(embed, settings.nlp),
            settings.brand_name,
            leadership,
        )
        monitor.redrafts = redrafts
        return monitor

    def reload(self, settings: Settings) -> None:
        """The brand's crisis phrases and holding statements again (a playbook reload)."""
        lexicon, holding = load_brand_files(settings)
        with self._lock:
            self.detector.lexicon, self.holding = lexicon, holding

    @property
    def story_threshold(self) -> float:
        return self.detector.config.story.member

    def close(self) -> None:
        """Let another process run the window tests at once (they would at our exit anyway)."""
        if self.leader is not None:
            with self._lock:
                self.leader.release()

    # ---- the pipeline hook ---------------------------------------------------------------

    def drafts(
        self, session: Session, message: Message, result: Classification, contact: Contact | None
    ) -> list[DraftCandidate] | None:
        """A message that belongs to an active incident gets holding statements instead of
        the playbook's drafts, and joins the incident."""
        if message.kind != "message":
            return None
        for incident in incidents.active(session):
            view = incidents.view_of(session, incident, about=message)
            if self._belongs(message, result, view):
                incidents.link(session, incident, [_stored_id(message)], "follow-up")
                conversation = session.get(Conversation, message.conversation_id)
                direct = conversation is not None and conversation.kind == "direct"
                return self._holding(incident, result, contact, direct)
        return None

    def _holding(
        self, incident: Incident, result: Classification, contact: Contact | None, direct: bool
    ) -> list[DraftCandidate]:
        name = contact.display_name if contact and not contact.erased else None
        category = incidents.category(incident)
        return self.holding.drafts(category, result.language, name, self.brand, direct)

    def stored(self, session: Session, stored: list[tuple[Message, Classification]]) -> None:
        """In the messages' own transaction: on PostgreSQL, add them to the feed of the process
        that runs the window tests, with the embeddings of negative ones (for stories)."""
        if self.leader is None:
            return
        try:
            rows = [
                CrisisFeed(
                    message_id=_stored_id(message),
                    vector=shared.to_bytes(
                        self.embedder.known(message, result)
                        if is_negative(result.type, result.sentiment)
                        else None
                    ),
                )
                for message, result in stored
                if message.kind == "message"
            ]
        except Exception:  # detection must never fail the message
            log.exception("crisis detection could not feed a batch")
            return
        session.add_all(rows)

    def processed(self, messages: list[Message], results: list[Classification]) -> None:
        """Check a committed batch and act on what the detector finds."""
        try:
            pairs = [(m, r) for m, r in zip(messages, results, strict=True) if m.kind == "message"]
            if not pairs:
                self.tick()
                return
            now = self.clock()
            with self._lock:
                batch = [m for m, _ in pairs]
                vectors = self.embedder.for_messages(batch, [r for _, r in pairs])
                seen = [observation(m, r, v) for (m, r), v in zip(pairs, vectors, strict=True)]
                if self.leader is None:  # this process sees every message: count them here
                    self._start(exclude={_stored_id(m) for m in batch})
                    signals = [s for obs in seen for s in self.detector.observe(obs)]
                    signals += self.detector.evaluate(now)
                    self._last_evaluation = now
                else:  # the leader counts every process's messages from the feed
                    signals = [s for obs in seen for s in self.detector.severity(obs)]
                    signals += self._shared_round(self.leader, now)
            self.handle(signals)
        except Exception:  # detection must never stop the pipeline
            log.exception("crisis detection failed on a batch")

    def tick(self, now: datetime | None = None) -> list[Signal]:
        """Evaluate the windows when no batch did for a while (idle rounds call this)."""
        now = now or self.clock()
        with self._lock:
            if self.leader is not None:
                signals = self._shared_round(self.leader, now)
            else:
                last = self._last_evaluation
                if last and now - last < timedelta(seconds=TICK_SECONDS):
                    return []
                self._start()
                signals = self.detector.evaluate(now)
                self._last_evaluation = now
        self.handle(signals)
        return signals

    # ---- several processes (PostgreSQL) --------------------------------------------------

    def _shared_round(self, leader: shared.Leader, now: datetime) -> list[Signal]:
        """If this process leads: read the feed, count its messages and run the window tests."""
        last = self._last_evaluation
        if last is not None and timedelta(0) <= now - last < timedelta(seconds=SHARED_SECONDS):
            return []
        self._last_evaluation = now
        was_leading = leader.leading
        if not leader.check(now):
            if was_leading:
                self._forget()
            return []
        if not was_leading:
            self._forget()  # what we knew from an earlier lead is stale: learn afresh
        try:
            if not self._started:
                self._start_shared(now)
            else:
                for obs in self._read_feed():
                    self.detector.add(obs)
        except Exception:
            self._forget()  # learn afresh from the stored history: nothing lost, nothing twice
            raise
        return self.detector.evaluate(now)

    def _forget(self) -> None:
        self.detector = Detector(self.detector.config, self.detector.lexicon)
        self._started = False

    def _start_shared(self, now: datetime) -> None:
        """Learn from the stored history and empty the feed in one snapshot: a message counts
        once, in the history or (processed after the snapshot) from the feed."""
        snapshot = self.engine.execution_options(isolation_level="REPEATABLE READ")
        with session_scope(snapshot) as session:
            taken = shared.take(session, everything=True)
            rows, recent = self._history(session, now)
        self._learn(rows, recent, now, shared.known_vectors(taken))
        self._started = True

    def _read_feed(self) -> list[Observation]:
        """The messages every process processed since the last round, in the order they were
        added to the feed."""
        with session_scope(self.engine) as session:
            taken = shared.take(session)
            ids = [message_id for message_id, _ in taken]
            found = (
                session.exec(select(Message).where(col(Message.id).in_(ids))).all() if ids else []
            )
        by_id = {m.id: m for m in found}
        messages = [by_id[i] for i in ids if i in by_id]
        vectors = self._vectors(messages, shared.known_vectors(taken))
        return [observation(m, stored_classification(m), vectors.get(m.id)) for m in messages]

    def _vectors(self, messages: list[Message], known: dict | None = None) -> dict:
        """Embeddings of the negative messages among these (the only ones the window tests
        use): from `known` or the cache, else embedded."""
        negative = [m for m in messages if is_negative(m.type, m.sentiment)]
        found = self.embedder.for_messages(negative, known=known)
        return dict(zip((m.id for m in negative), found, strict=True))

    # ---- signals → incidents → alerts and playbook ---------------------------------------

    def handle(self, signals: list[Signal]) -> list[incidents.Recorded]:
        recorded = []
        for signal in signals:  # one at a time across processes: a crisis opens once
            with shared.recording(self.engine) as session:
                rec = incidents.record(session, signal, self.story_threshold)
                if rec is not None:
                    self._redraft(session, rec.incident, rec.new_message_ids)
            if rec is None:
                continue
            recorded.append(rec)
            if rec.opened:
                log.warning(
                    "crisis incident #%s opened (severity %s): %s",
                    rec.incident.id,
                    rec.incident.severity,
                    rec.incident.title,
                )
                assert rec.incident.id is not None  # flushed when it was recorded
                self._start_alerts(rec.incident.id)
        return recorded

    def _start_alerts(self, incident_id: int) -> None:
        """The first round goes out from here at once (`send_opened`); the timer in the shared
        job table repeats and escalates it, run by whichever process leads the scheduler."""
        with self._lock:
            self._to_alert.append(incident_id)
        if self.scheduler is None:
            log.warning("no job table: incident %s is repeated once a scheduler starts",
                        incident_id)  # fmt: skip
            return
        try:
            alerts.schedule(self.scheduler, incident_id, self.policy)
        except Exception:  # the first round still goes; the leader restores timers on start
            log.exception("incident %s: could not store its alert timer", incident_id)

    async def send_opened(self) -> int:
        """A worker job: send the first round of the incidents opened in this process (a
        round is claimed under a row lock, so it goes out once whoever else tries)."""
        with self._lock:
            owed, self._to_alert = self._to_alert, []
        if not owed or self.channels is None:
            return 0
        sent = 0
        for incident_id in owed:
            try:
                sent += await alerts.send_round(self.engine, self.channels, self.policy,
                                                incident_id)  # fmt: skip
            except Exception:  # the timer's first run sends it instead
                log.exception("incident %s: the first alert round failed", incident_id)
        return sent

    def _belongs(self, message: Message, result: Classification, view) -> bool:
        vector = None
        if view.story is not None and (message.text or "").strip():
            vector = self.embedder.for_messages([message], [result])[0]
        obs = observation(message, result, vector)
        return incidents.joins(obs, view, self.story_threshold)

    def _redraft(self, session: Session, incident: Incident, message_ids: list[int]) -> None:
        """Messages that just joined the incident and still wait for a reply: their pending
        drafts make way for the crisis playbook's. They are members already, so this is one
        pass over them (an incident can open with hundreds of messages)."""
        if not message_ids or not self.redrafts:
            return
        pending = session.exec(
            select(Draft).where(
                col(Draft.message_id).in_(message_ids), Draft.status == DraftStatus.PENDING
            )
        ).all()
        by_message: dict[int, list[Draft]] = {}
        for draft in pending:
            by_message.setdefault(draft.message_id, []).append(draft)
        by_message = {
            message_id: drafts
            for message_id, drafts in by_message.items()
            if not all(d.playbook.startswith("crisis/") for d in drafts)
        }
        if not by_message:
            return
        messages = session.exec(select(Message).where(col(Message.id).in_(by_message))).all()
        contact_ids = {m.contact_id for m in messages if m.contact_id}
        contacts = {
            c.id: c for c in session.exec(select(Contact).where(col(Contact.id).in_(contact_ids)))
        }
        first_ranks = next_ranks(session, list(by_message))
        kinds = dict(
            session.exec(
                select(Conversation.id, Conversation.kind).where(
                    col(Conversation.id).in_({m.conversation_id for m in messages})
                )
            ).all()
        )
        now = utcnow()
        for message in messages:
            message_id = _stored_id(message)
            drafts = by_message[message_id]
            for draft in drafts:
                draft.status, draft.decided_at = DraftStatus.SUPERSEDED, now
                draft.reason = f"replaced by the crisis playbook (incident #{incident.id})"
                session.add(draft)
            result = stored_classification(message)
            direct = kinds.get(message.conversation_id) == "direct"
            candidates = self._holding(incident, result, contacts.get(message.contact_id), direct)
            redraft(session, message, candidates, first_ranks[message_id])

    # ---- history -------------------------------------------------------------------------

    def _start(self, exclude: Collection[int] = frozenset()) -> None:
        """Learn from stored history once (on the first batch or tick after start-up): counts
        from the last weeks, and embeddings of the last day's messages for the story test."""
        if self._started:
            return
        self._started = True
        now = self.clock()
        with Session(self.engine) as session:
            rows, recent = self._history(session, now)
        rows = [r for r in rows if r.id not in exclude]
        recent = [m for m in recent if m.id not in exclude]
        self._learn(rows, recent, now)

    def _history(self, session: Session, now: datetime) -> tuple[list, list[Message]]:
        """The processed inbound messages of the last weeks (the fields counting needs, oldest
        first), and the last day's latest ones in full (to embed)."""
        weeks = timedelta(weeks=self.detector.config.baseline_weeks)
        rows = session.execute(  # eight columns: more than sqlmodel's select has types for
            sa.select(
                col(Message.id),
                col(Message.sent_at),
                col(Message.received_at),
                col(Message.channel),
                col(Message.contact_id),
                col(Message.conversation_id),
                col(Message.type),
                col(Message.sentiment),
            )
            .where(
                col(Message.direction) == "in",
                col(Message.kind) == "message",
                col(Message.state) == MessageState.PROCESSED,
                col(Message.sent_at) >= now - weeks,
            )
            .order_by(col(Message.sent_at), col(Message.id))
        ).all()
        recent_ids = [r.id for r in rows if r.sent_at >= now - timedelta(days=1)]
        recent = session.exec(
            select(Message).where(col(Message.id).in_(recent_ids[-RECENT_VECTORS:]))
        ).all()
        session.expunge_all()
        return list(rows), list(recent)

    def _learn(
        self, rows: list, recent: list[Message], now: datetime, known: dict | None = None
    ) -> None:
        vectors = self._vectors(recent, known)
        texts = {m.id: m.text or "" for m in recent}
        history = [
            observation(r, _stored(r.type, r.sentiment), vectors.get(r.id), texts.get(r.id, ""))
            for r in rows
        ]
        since = min((o.at for o in history), default=now)
        self.detector.learn(history, now, since)
        log.info("crisis baseline learned from %d messages since %s", len(history), since)


def load_brand_files(settings: Settings) -> tuple[Lexicon, HoldingStatements]:
    """The crisis phrases and holding statements, with the brand's own in its playbook folder."""
    brand_dir = settings.replies.playbook_dir / "crisis" if settings.replies.playbook_dir else None
    lexicon = Lexicon.load(
        [brand_dir / "signals.yaml" if brand_dir else None, settings.crisis.signals_file]
    )
    return lexicon, HoldingStatements.load(brand_dir / "holding.yaml" if brand_dir else None)


def _stored_id(message: Message) -> int:
    """A message crisis detection sees was stored before it was classified."""
    assert message.id is not None
    return message.id


def observation(message, result: Classification, vector, text: str | None = None) -> Observation:
    """What the detector needs of a message (a Message or a row with the same fields)."""
    sent = message.sent_at
    if message.received_at and sent > message.received_at:
        sent = message.received_at  # a sender's clock ahead of ours
    person = message.contact_id if message.contact_id is not None else message.conversation_id
    raw = getattr(message, "raw", None)  # the web chat's person: one per address, not per cookie
    if isinstance(raw, dict) and isinstance(raw.get("person"), str):
        person = raw["person"]
    return Observation(
        message_id=message.id,
        at=sent,
        channel=message.channel,
        author=f"{message.channel}:{person}",
        type=result.type,
        sentiment=result.sentiment,
        text=(message.text or "") if text is None else text,
        vector=vector,
        conversation_id=message.conversation_id,
        contact_id=message.contact_id,
    )


def _stored(kind: str | None, sentiment: float | None) -> Classification:
    return Classification(
        type=kind or "other", scores={}, sentiment=sentiment or 0.0, language="other"
    )


def stored_classification(message: Message) -> Classification:
    """A processed message's classification as the pipeline stored it."""
    return Classification(
        type=message.type or "other",
        scores=message.type_scores or {},
        sentiment=message.sentiment or 0.0,
        language=message.language or "other",
        suggestion=bool(message.suggestion),
        subtype=message.subtype,
        confidence=message.confidence or 0.0,
        low_confidence=bool(message.low_confidence),
    )


# ---- scheduler wiring --------------------------------------------------------------------


def install(services) -> None:
    """Standing-job installer (bot/jobs.py): hand the monitor the scheduler, and give open
    incidents that have no alert timer one."""
    monitor = services.crisis
    if monitor is None:
        return
    monitor.scheduler = services.scheduler
    try:
        restored = alerts.reschedule_open(services.scheduler, monitor.engine, monitor.policy)
    except Exception:  # another process restoring the same timers at once; it has them
        log.exception("crisis alerts: restoring the timers of open incidents failed")
        return
    if restored:
        log.info("crisis alerts restarted for %d open incidents", restored)
