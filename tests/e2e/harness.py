"""Whole replyline deployments for end-to-end tests: real `replyline serve` and `replyline
worker` processes (started as users start them) on one database, wired to the loopback fake
Telegram and LINE APIs, plus the clients a person or a platform would use to talk to them.

Like errbot's `testbot` fixture, but for processes: a test speaks HTTP to the servers (the
console, the web chat, signed webhooks), watches the fakes for what reached the platforms and
reads the database. Every wait fails with what it waited for and the processes' recent logs,
with the deployment's secrets blanked out."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.engine import make_url
from sqlmodel import Session, select

from bot.web.security import hash_password
from db.engine import make_engine, session_scope
from db.models import Draft, Message, User
from tests.fakes import line_webhooks as lw
from tests.fakes import telegram_updates as tu
from tests.fakes.line_api import FakeLine
from tests.fakes.telegram_api import FakeTelegram
from tests.support import ROOT, free_port

START_SECONDS = 90  # a process answering /healthz (the model is loaded later, on first use)
LOG_TAIL_CHARS = 3000  # of each process's log, in a failure message


@dataclass
class Person:
    """A console user, with a Telegram and LINE account when they review or get alerts there."""

    username: str
    role: str
    telegram_id: int | None = None
    line_id: str | None = None
    locale: str | None = None  # their console language, which their chat messages follow too
    password: str = field(default_factory=lambda: secrets.token_urlsafe(12), repr=False)


class Environment(dict):
    """A process's environment; its repr (in a failing test's traceback) shows no values."""

    def __repr__(self) -> str:
        return f"<environment of {len(self)} variables>"


class Process:
    """One replyline process (`serve` or `worker`) with its log file; its own process group,
    so stopping it also stops the worker child a `serve` starts."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], workdir: Path):
        self.name = name
        self.log = workdir / f"{name}.log"
        self.port: int | None = None
        self.proc = subprocess.Popen(  # noqa: S603 (our interpreter, our module)
            [sys.executable, "-m", "bot", *argv],
            cwd=workdir,  # not the checkout: a developer's .env there must not leak in
            env=env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def alive(self) -> bool:
        return self.proc.poll() is None

    def children(self) -> list[int]:
        """Live child processes (a `serve`'s pipeline worker)."""
        pid = self.proc.pid
        try:
            listed = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except FileNotFoundError:
            return []
        return [int(p) for p in listed if _running(int(p))]

    def terminate(self) -> None:
        """Ask it to stop, as a service manager would (SIGTERM)."""
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL for whatever of its group is left after 15 s."""
        self.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(15)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-LOG_TAIL_CHARS:]
        except FileNotFoundError:
            return ""


def _opens(pid: int, database_url: str) -> bool:
    """Whether process `pid` has the database open: the SQLite file, or a connection to the
    PostgreSQL server's port."""
    url = make_url(database_url)
    folder = Path(f"/proc/{pid}/fd")
    targets = []
    for fd in folder.iterdir() if folder.exists() else ():
        with contextlib.suppress(OSError):
            targets.append(os.readlink(fd))
    if url.get_backend_name() == "sqlite":
        return str(Path(url.database).resolve()) in targets
    sockets = {t[len("socket:[") : -1] for t in targets if t.startswith("socket:[")}
    port = f":{url.port or 5432:04X}"
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[2].endswith(port) and fields[9] in sockets:
                return True
    return False


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


class Deployment:
    """One database, the fake platforms and the replyline processes that share them."""

    def __init__(
        self,
        database_url: str,
        workdir: Path,
        telegram: FakeTelegram,
        line: FakeLine,
        people: list[Person],
        **settings: str,
    ):
        self.database_url = database_url
        self.workdir = workdir
        self.telegram = telegram
        self.line = line
        self.people = {p.username: p for p in people}
        self.secret_key = secrets.token_urlsafe(24)
        self.settings = settings
        self.processes: list[Process] = []
        self.engine = make_engine(database_url)
        self._add_people(people)

    # ----- processes --------------------------------------------------------------------

    def environment(self) -> dict[str, str]:
        """What every process gets: the machine's environment without any REPLYLINE_ setting
        of the developer's, then the deployment's settings."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("REPLYLINE_")}
        env |= {
            "PYTHONPATH": str(ROOT),
            "REPLYLINE_DATABASE_URL": self.database_url,
            "REPLYLINE_SECRET_KEY": self.secret_key,
            "REPLYLINE_TELEGRAM_BOT_TOKEN": self.telegram.token,
            "REPLYLINE_TELEGRAM_WEBHOOK_SECRET": tu.WEBHOOK_SECRET,
            "REPLYLINE_TELEGRAM_API_BASE": self.telegram.api_base,
            "REPLYLINE_LINE_CHANNEL_SECRET": lw.CHANNEL_SECRET,
            "REPLYLINE_LINE_CHANNEL_ACCESS_TOKEN": self.line.access_token,
            "REPLYLINE_LINE_API_BASE": self.line.api_base,
        }
        env |= {f"REPLYLINE_{k.upper()}": str(v) for k, v in self.settings.items()}
        return Environment(env)

    def start(self, serves: tuple[str, ...] = ("serve",), workers: tuple[str, ...] = ()) -> None:
        """Start `replyline serve` processes as users run them (each with its pipeline in a
        child process) and `replyline worker` processes (pipeline and scheduled jobs, no web
        app), all at once; return when every web process answers and every pipeline is up."""
        for name in serves:
            port = free_port()
            env = Environment(self.environment() | {"REPLYLINE_PORT": str(port)})
            process = Process(name, ["serve"], env, self.workdir)
            process.port = port
            self.processes.append(process)
        for name in workers:
            self.processes.append(Process(name, ["worker"], self.environment(), self.workdir))
        for process in self.web:
            self._wait_healthy(process)
        self.wait_ready()

    def _wait_healthy(self, process: Process) -> None:
        def healthy() -> bool:
            if not process.alive():
                raise AssertionError(f"{process.name} exited\n{self.logs()}")
            try:
                return httpx.get(process.url + "/healthz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        self.wait_until(healthy, f"{process.name} to answer /healthz", START_SECONDS)

    def wait_ready(self) -> None:
        """Until every pipeline worker (each `serve`'s child, or with worker_process=false the
        `serve` itself; each `worker`) has opened the database, which it does once built: its
        playbooks and settings are loaded."""

        in_child = str(self.settings.get("worker_process", "true")).lower() != "false"

        def pipelines() -> list[int]:
            if in_child:  # serve's default
                pids = [c for p in self.web for c in p.children()]
            else:  # REPLYLINE_WORKER_PROCESS=false: the pipeline runs in the web process
                pids = [p.proc.pid for p in self.web]
            return pids + [p.proc.pid for p in self.processes if p.port is None]

        def ready() -> bool:
            pids = pipelines()
            return len(pids) == len(self.processes) and all(
                _opens(pid, self.database_url) for pid in pids
            )

        self.wait_until(ready, "every pipeline worker to open the database", START_SECONDS)

    @property
    def web(self) -> list[Process]:
        return [p for p in self.processes if p.port is not None]

    def stop(self) -> None:
        """Stop every process (all asked at once), killing what does not stop in time."""
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.stop()
        self.engine.dispose()

    # ----- waiting and failing clearly --------------------------------------------------

    def wait_until(self, condition: Callable[[], Any], what: str, timeout: float = 60) -> Any:
        """Poll `condition()` until it is truthy and return its value; after `timeout`
        seconds fail with `what` and every process's recent log."""
        deadline = time.monotonic() + timeout
        while True:
            value = condition()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out after {timeout:g}s waiting for {what}\n{self.logs()}"
                )
            time.sleep(0.1)

    def logs(self) -> str:
        """The processes' recent logs, secrets blanked out."""
        parts = [f"----- {p.name} (exit {p.proc.poll()}) -----\n{p.tail()}" for p in self.processes]
        return self.redact("\n".join(parts))

    def logged_secrets(self) -> list[str]:
        """Which of the deployment's secrets appear anywhere in the processes' logs (by
        position in `secrets()`, never the secret itself)."""
        logs = "".join(p.log.read_text(errors="replace") for p in self.processes)
        return [f"secret #{n}" for n, secret in enumerate(self.secrets()) if secret in logs]

    def redact(self, text: str) -> str:
        for secret in self.secrets():
            text = text.replace(secret, "[secret]")
        return text

    def secrets(self) -> list[str]:
        token = self.telegram.token
        found = [token, token.split(":", 1)[1], tu.WEBHOOK_SECRET, lw.CHANNEL_SECRET]
        found += [self.line.access_token, self.secret_key]
        return found + [p.password for p in self.people.values()]

    # ----- the database -----------------------------------------------------------------

    def query(self, read: Callable[[Session], Any]) -> Any:
        with Session(self.engine) as session:
            return read(session)

    def inbound(self, marker: str) -> Message | None:
        """The inbound message whose text contains `marker`."""
        return self.query(
            lambda s: s.exec(
                select(Message).where(Message.direction == "in", Message.text.contains(marker))
            ).first()
        )

    def drafts_of(self, message_id: int) -> list[Draft]:
        return self.query(
            lambda s: s.exec(
                select(Draft).where(Draft.message_id == message_id).order_by(Draft.rank)
            ).all()
        )

    def top_draft(self, marker: str, timeout: float = 90) -> Draft:
        """The first candidate reply to the message containing `marker`, once drafted."""

        def drafted():
            message = self.inbound(marker)
            drafts = self.drafts_of(message.id) if message else []
            return drafts[0] if drafts else None

        return self.wait_until(drafted, f"a draft for the message {marker!r}", timeout)

    def draft(self, draft_id: int) -> Draft:
        return self.query(lambda s: s.get(Draft, draft_id))

    def _add_people(self, people: list[Person]) -> None:
        with session_scope(self.engine) as session:
            for p in people:
                session.add(
                    User(
                        username=p.username,
                        password_hash=hash_password(p.password),
                        role=p.role,
                        telegram_user_id=str(p.telegram_id) if p.telegram_id else None,
                        line_user_id=p.line_id,
                        locale=p.locale,
                    )
                )

    # ----- the scheduler's job table ----------------------------------------------------

    def run_job_now(self, job_id: str) -> None:
        """Bring a stored job's next run time forward to now, through APScheduler's own job
        store (the row and its pickled state agree); the leading process runs it at its next
        look at the table (REPLYLINE_SCHEDULER_RETRY_SECONDS)."""
        from datetime import UTC, datetime

        from bot.scheduler import job_table

        async def bring_forward() -> None:
            async with job_table(self.database_url) as table:
                table.aps.modify_job(job_id, next_run_time=datetime.now(UTC))

        asyncio.run(bring_forward())

    # ----- platforms --------------------------------------------------------------------

    def line_says(
        self, text: str, user: str, to: Process | None = None, token_age: float = 0.0
    ) -> dict:
        """A LINE user writes to the official account: a signed webhook with a reply token
        (issued `token_age` seconds ago: LINE refuses one older than a minute)."""
        event = lw.text_event(text, user, api=self.line)
        if token_age:
            event["replyToken"] = self.line.issue_reply_token(user, age=token_age)
        raw = lw.body(event)
        response = httpx.post(
            (to or self.web[0]).url + "/webhooks/line", content=raw, headers=lw.headers(raw)
        )
        assert response.status_code == 200, self.redact(response.text)
        return event

    def telegram_sends(self, update: dict, to: Process | None = None) -> httpx.Response:
        """Telegram delivers an update to the webhook, with the webhook's secret token."""
        headers = {
            "content-type": "application/json",
            "x-telegram-bot-api-secret-token": tu.WEBHOOK_SECRET,
        }
        response = httpx.post(
            (to or self.web[0]).url + "/webhooks/telegram",
            content=json.dumps(update).encode(),
            headers=headers,
        )
        assert response.status_code == 200, self.redact(response.text)
        return response

    def press(self, card: dict, action: str, person: Person, to: Process | None = None) -> str:
        """`person` presses the inline button under a message the bot sent whose data starts
        with `action` ("ack", "draft:a": its label is in the chat's language); the callback
        query's id."""
        data = next(
            b["callback_data"]
            for row in card["reply_markup"]["inline_keyboard"]
            for b in row
            if b["callback_data"].startswith(action)
        )
        sent = tu.bot_message(
            int(card["chat_id"]), card["message_id"], self.telegram.bot_id, card["text"]
        )
        update = tu.callback(data, person.telegram_id, sent)
        self.telegram_sends(update, to)
        return update["callback_query"]["id"]

    def console(self, username: str, process: Process | None = None) -> Console:
        return Console(self, process or self.web[0], self.people[username])

    def chat(self, process: Process | None = None) -> WebChat:
        return WebChat(self, process or self.web[0])


class Console:
    """A logged-in console user's browser: the session cookie and the CSRF token its forms
    carry."""

    def __init__(self, deployment: Deployment, process: Process, person: Person):
        self.deployment = deployment
        self.http = httpx.Client(base_url=process.url, timeout=30)
        response = self.http.post(
            "/console/login", data={"username": person.username, "password": person.password}
        )
        assert response.status_code == 303, f"login failed: {response.status_code}"
        page = self.http.get("/console")
        assert page.status_code == 200, f"console: {page.status_code}"
        self.csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)

    def post(self, path: str, **form: str) -> httpx.Response:
        """Submit a console form; a refusal fails with the server's answer."""
        response = self.http.post(path, data={"csrf": self.csrf, **form})
        assert response.status_code in (200, 303), (
            f"POST {path}: {response.status_code} {self.deployment.redact(response.text[:500])}"
        )
        return response

    def approve(self, draft_id: int) -> None:
        self.post(f"/console/drafts/{draft_id}/approve")


class WebChat:
    """A visitor's browser on /chat: its cookie names the conversation."""

    def __init__(self, deployment: Deployment, process: Process):
        self.http = httpx.Client(base_url=process.url, timeout=30)
        assert self.http.get("/chat").status_code == 200

    def say(self, text: str) -> None:
        response = self.http.post(
            "/chat/api/messages", json={"text": text, "client_id": secrets.token_hex(8)}
        )
        assert response.status_code == 200 and response.json()["stored"] == 1, response.text

    def replies(self) -> list[str]:
        messages = self.http.get("/chat/api/messages").json()["messages"]
        return [m["text"] for m in messages if m["direction"] == "out"]
