"""Load benchmark: inbound messages at a fixed rate for a fixed time against real
`replyline serve` processes on loopback; prints acknowledgement latency (p50/p90/p99/max),
errors, and end-to-end time from sending to drafted.

    python bench/load.py                              # SQLite, one process, 200/s for 30 s
    python bench/load.py --db postgres --processes 2  # one PostgreSQL database, two processes
    python bench/load.py --rate 400 --seconds 10 --target web

Latency is measured from the moment each request was due, not when it was sent, so a slow
server cannot hide its queueing (no coordinated omission). With several processes the
generator spreads requests round-robin over them, as a reverse proxy would. Targets: signed
LINE webhooks, Telegram updates with the webhook secret, or the web chat; the servers' LINE and
Telegram channels talk to loopback fakes of those APIs (tests/fakes/) in a process of their own."""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.web.visitors import Visitors  # noqa: E402

SCRIPTED = "tests.support:ScriptedClassifier"
LINE_SECRET = "bench-line-channel-secret"
TELEGRAM_SECRET = "bench-telegram-secret-token"
BENCH_SECRET_KEY = "bench-secret-key"
VISITORS = Visitors(BENCH_SECRET_KEY)  # the chat's visitor ids, signed as the server signs them
TYPES = ("question", "complaint", "advocate", "other", "troll")


# ---------------------------------------------------------------- what is sent


@dataclass
class Target:
    """How one inbound message is sent to one kind of endpoint."""

    name: str = "web"

    def request(self, n: int, conversation: int) -> tuple[str, dict[str, str], bytes, str]:
        """(path, headers, body, event id as stored) for message n in a conversation."""
        visitor = f"loadvisitor{conversation:05d}"
        client_id = f"load-{n:08d}"
        body = json.dumps(
            {
                "text": f"{TYPES[n % len(TYPES)]}: load message {n} 請問營業時間",
                "client_id": client_id,
            },
            ensure_ascii=False,
        ).encode()
        headers = {
            "content-type": "application/json",
            "cookie": f"replyline_visitor={VISITORS.cookie_for(visitor)}",
        }
        return "/chat/api/messages", headers, body, f"{visitor}:{client_id}"


@dataclass
class LineTarget(Target):
    """Signed LINE webhook deliveries (needs the LINE adapter and REPLYLINE_LINE_* settings)."""

    name: str = "line"
    # message n -> its event timestamp. Sending n again is a redelivery, as LINE makes one:
    # the same webhookEventId and timestamp, with deliveryContext.isRedelivery set.
    sent: dict[int, int] = field(default_factory=dict)

    def request(self, n, conversation):
        event_id = f"01LOAD{n:020d}"
        redelivery = n in self.sent
        timestamp = self.sent.setdefault(n, int(time.time() * 1000))
        body = json.dumps(
            {
                "destination": "Ubench",
                "events": [
                    {
                        "type": "message",
                        "mode": "active",
                        "timestamp": timestamp,
                        "webhookEventId": event_id,
                        "deliveryContext": {"isRedelivery": redelivery},
                        "replyToken": f"rt{n:030d}",
                        "source": {"type": "user", "userId": f"U{conversation:032x}"},
                        "message": {
                            "id": str(10**15 + n),
                            "type": "text",
                            "text": f"{TYPES[n % len(TYPES)]}: load message {n}",
                            "quoteToken": f"q{n}",
                        },
                    }
                ],
            }
        ).encode()
        mac = hmac.new(LINE_SECRET.encode(), body, hashlib.sha256).digest()
        headers = {
            "content-type": "application/json",
            "x-line-signature": base64.b64encode(mac).decode(),
        }
        return "/webhooks/line", headers, body, event_id


@dataclass
class TelegramTarget(Target):
    """Telegram updates with the webhook secret token (needs the Telegram adapter)."""

    name: str = "telegram"
    bot_id: str = ""  # replyline stores an update as "<bot id>:<update id>"

    def request(self, n, conversation):
        user = 100000 + conversation
        body = json.dumps(
            {
                "update_id": 500000000 + n,
                "message": {
                    "message_id": n + 1,
                    "date": int(time.time()),
                    "chat": {"id": user, "type": "private", "first_name": "Load"},
                    "from": {"id": user, "is_bot": False, "first_name": "Load"},
                    "text": f"{TYPES[n % len(TYPES)]}: load message {n}",
                },
            }
        ).encode()
        headers = {
            "content-type": "application/json",
            "x-telegram-bot-api-secret-token": TELEGRAM_SECRET,
        }
        return "/webhooks/telegram", headers, body, f"{self.bot_id}:{500000000 + n}"


TARGETS = {"web": Target, "line": LineTarget, "telegram": TelegramTarget}


# ---------------------------------------------------------------- a lean HTTP/1.1 client


class StaleConnection(ConnectionError):
    """A kept-alive connection the server had already closed."""


class Pool:
    """Keep-alive HTTP/1.1 connections to one host:port (light enough not to be what is
    measured). `timeout`: seconds before a request that got no answer counts as failed
    (TimeoutError), as a platform gives up on a webhook."""

    def __init__(self, host: str, port: int, size: int, timeout: float | None = None):
        self.host, self.port, self.size, self.timeout = host, port, size, timeout
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.open = 0
        self.freed = asyncio.Condition()

    async def _get(self, fresh: bool = False):
        """(connection, reused?)."""
        async with self.freed:
            while not self.idle and self.open >= self.size and not fresh:
                await self.freed.wait()
            if self.idle and not fresh:
                return self.idle.pop(), True
            self.open += 1
        try:
            return await asyncio.open_connection(self.host, self.port), False
        except BaseException:
            self.open -= 1
            raise

    async def _put(self, connection, reusable: bool):
        async with self.freed:
            if reusable:
                self.idle.append(connection)
            else:
                self.open -= 1
                connection[1].close()
            self.freed.notify()

    async def post(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        async with asyncio.timeout(self.timeout):
            return await self._post_or_repost(path, headers, body)

    async def _post_or_repost(self, path, headers, body) -> tuple[int, bytes]:
        try:
            return await self._post(path, headers, body, fresh=False)
        except StaleConnection:
            # The server closed an idle keep-alive connection before reading the request (as
            # every HTTP client does, send it again on a new connection).
            return await self._post(path, headers, body, fresh=True)

    async def _post(self, path, headers, body, fresh: bool) -> tuple[int, bytes]:
        connection, reused = await self._get(fresh)
        reader, writer = connection
        ok = False
        try:
            head = f"POST {path} HTTP/1.1\r\nhost: {self.host}:{self.port}\r\n"
            head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
            head += f"content-length: {len(body)}\r\n\r\n"
            writer.write(head.encode() + body)
            try:
                status_line = await reader.readline()
            except ConnectionResetError:
                status_line = b""
            if not status_line:
                raise StaleConnection() if reused else ConnectionError("connection closed")
            status = int(status_line.split()[1])
            length, close = 0, False
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                name = name.strip().lower()
                if name == "content-length":
                    length = int(value)
                elif name == "connection" and "close" in value.lower():
                    close = True
            payload = await reader.readexactly(length)
            ok = not close
            return status, payload
        finally:
            await self._put(connection, ok)

    async def close(self):
        for _, writer in self.idle:
            writer.close()


# ---------------------------------------------------------------- servers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(database_url: str, port: int, classifier: str, extra: dict | None = None) -> dict:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "REPLYLINE_DATABASE_URL": database_url,
        "REPLYLINE_PORT": str(port),
        "REPLYLINE_HOST": "127.0.0.1",
        "REPLYLINE_SECRET_KEY": BENCH_SECRET_KEY,
        # one loopback address sends everything: the chat's per-address limit would refuse it
        "REPLYLINE_CHAT_MAX_POSTS_PER_ADDRESS": str(10**9),
        "REPLYLINE_CHAT_MAX_POSTS_PER_VISITOR": str(10**9),
        "REPLYLINE_CLASSIFIER": classifier,
        "REPLYLINE_LINE_CHANNEL_SECRET": LINE_SECRET,
        "REPLYLINE_TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
        **(extra or {}),
    }


class Server:
    """One `replyline serve` process (or, with command="worker", a pipeline worker)."""

    def __init__(self, database_url, classifier, log: Path, extra=None, command="serve", port=None):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.command = command
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", command],
            cwd=ROOT,
            env=server_env(database_url, self.port, classifier, extra),
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        self.log = log

    def wait_ready(self, seconds: float = 60) -> None:
        if self.command != "serve":
            time.sleep(1.0)
            if self.proc.poll() is not None:
                raise RuntimeError("worker exited: " + self.log.read_text()[-2000:])
            return
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("server exited: " + self.log.read_text()[-2000:])
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s,
            ):
                s.sendall(b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
                if b" 200 " in s.recv(200):
                    return
            time.sleep(0.1)
        raise RuntimeError("server did not start: " + self.log.read_text()[-2000:])

    def cpu_seconds(self) -> float:
        """CPU time the server process and its live children (a worker process) have used
        so far (user + system)."""
        pid = self.proc.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        return sum(_cpu_seconds(int(p)) for p in [pid, *children])

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:  # the child has just exited
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _serve_fakes(pipe) -> None:
    """In a child process (not to share the generator's interpreter): the fake LINE and
    Telegram APIs the servers fetch profiles from and send replies to."""
    from tests.fakes.line_api import FakeLine
    from tests.fakes.telegram_api import FakeTelegram

    line, telegram = FakeLine().start(), FakeTelegram().start()
    pipe.send(
        {
            "REPLYLINE_LINE_CHANNEL_ACCESS_TOKEN": line.access_token,
            "REPLYLINE_LINE_API_BASE": line.api_base,
            "REPLYLINE_TELEGRAM_BOT_TOKEN": telegram.token,
            "REPLYLINE_TELEGRAM_API_BASE": telegram.api_base,
        }
    )
    pipe.recv()  # until the benchmark ends
    line.stop()
    telegram.stop()


@contextlib.contextmanager
def platform_fakes() -> Iterator[dict[str, str]]:
    """Settings that point the servers' LINE and Telegram channels at loopback fakes."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    process = context.Process(target=_serve_fakes, args=(theirs,), daemon=True)
    process.start()
    try:
        yield ours.recv()
    finally:
        ours.send("stop")
        process.join(10)


@contextlib.contextmanager
def database(kind: str, workdir: Path) -> Iterator[str]:
    """A fresh, migrated database: a SQLite file, or a new PostgreSQL database (dropped after)."""
    from db.migrate import upgrade

    if kind == "sqlite":
        url = f"sqlite:///{workdir / 'bench.db'}"
        upgrade(url)
        yield url
        return
    from tests.support import fresh_postgres_database, postgres_available

    reason = postgres_available()
    if reason:
        raise SystemExit(reason)
    with fresh_postgres_database() as url:
        upgrade(url)
        yield url


# ---------------------------------------------------------------- the run


@dataclass
class Results:
    latencies: list[float] = field(default_factory=list)  # seconds, successful requests
    errors: dict[str, int] = field(default_factory=dict)
    sent_at: dict[str, float] = field(default_factory=dict)  # event id -> wall clock when due
    number: dict[str, int] = field(default_factory=dict)  # event id -> message number
    acknowledged: set[str] = field(default_factory=set)
    # every request: (event id, wall clock when due, seconds to the answer, status or error)
    answers: list[tuple[str, float, float, int | str]] = field(default_factory=list)
    elapsed: float = 0.0  # seconds the sending took (the answers may come later)

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


async def generate(
    urls: list[str],
    target: Target,
    rate: float,
    seconds: float,
    conversations: int,
    start_at: int = 0,
    results: Results | None = None,
    stop: asyncio.Event | None = None,
    connections: int = 64,
    timeout: float | None = None,
) -> Results:
    """Send rate*seconds messages, due at fixed intervals, round-robin over `urls`."""
    results = results or Results()
    pools = []
    for url in urls:
        host, port = url.removeprefix("http://").split(":")
        pools.append(Pool(host, int(port), connections, timeout))
    total = int(rate * seconds)
    tasks = set()

    async def fire(n: int, due: float, due_wall: float) -> None:
        path, headers, body, event_id = target.request(n, n % conversations)
        results.sent_at[event_id] = due_wall
        results.number[event_id] = n
        try:
            status, _ = await pools[n % len(pools)].post(path, headers, body)
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError) as error:
            results.error(type(error).__name__)
            results.answers.append(
                (event_id, due_wall, time.perf_counter() - due, type(error).__name__)
            )
            return
        results.answers.append((event_id, due_wall, time.perf_counter() - due, status))
        if 200 <= status < 300:
            results.latencies.append(time.perf_counter() - due)
            results.acknowledged.add(event_id)
        else:
            results.error(f"HTTP {status}")

    started, started_wall = time.perf_counter(), time.time()
    for i in range(total):
        if stop is not None and stop.is_set():
            break
        delay = i / rate
        pause = started + delay - time.perf_counter()
        if pause > 0:
            await asyncio.sleep(pause)
        task = asyncio.create_task(fire(start_at + i, started + delay, started_wall + delay))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    results.elapsed = time.perf_counter() - started  # how long sending took at the rate
    if tasks:
        await asyncio.gather(*tasks)
    for pool in pools:
        await pool.close()
    return results


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def drain(database_url: str, ids: set[str], timeout: float) -> tuple[dict[str, float], float]:
    """Wait until every acknowledged message is processed; (id -> processed wall time, wait)."""
    from sqlmodel import Session, select

    from db.engine import make_engine
    from db.models import Message

    engine = make_engine(database_url)
    started = time.monotonic()
    done: dict[str, float] = {}
    while time.monotonic() - started < timeout:
        with Session(engine) as session:
            rows = session.exec(
                select(Message.platform_event_id, Message.processed_at).where(
                    Message.state == "processed", Message.direction == "in"
                )
            ).all()
        done = {event_id: at.timestamp() for event_id, at in rows if event_id in ids}
        if len(done) >= len(ids):
            break
        time.sleep(0.2)
    engine.dispose()
    return done, time.monotonic() - started


def report(title: str, results: Results, processed: dict[str, float], drain_s: float) -> dict:
    ms = [x * 1000 for x in results.latencies]
    e2e = [
        (processed[i] - results.sent_at[i]) * 1000 for i in results.acknowledged if i in processed
    ]
    figures = {
        "run": title,
        "sent": len(results.sent_at),
        "acknowledged": len(results.acknowledged),
        "errors": sum(results.errors.values()),
        "error_kinds": results.errors,
        "rate_achieved_per_s": round(len(results.sent_at) / results.elapsed, 1)
        if results.elapsed
        else 0,
        "ack_ms": {
            "p50": round(percentile(ms, 50), 2),
            "p90": round(percentile(ms, 90), 2),
            "p99": round(percentile(ms, 99), 2),
            "max": round(max(ms), 2) if ms else None,
            "mean": round(statistics.fmean(ms), 2) if ms else None,
        },
        "end_to_end_to_draft_ms": {
            "p50": round(percentile(e2e, 50), 1),
            "p99": round(percentile(e2e, 99), 1),
            "max": round(max(e2e), 1) if e2e else None,
        },
        "processed": len(processed),
        "drain_after_load_s": round(drain_s, 2),
    }
    print(json.dumps(figures, ensure_ascii=False, indent=2), flush=True)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--processes", type=int, default=None, help="default 1 (sqlite), 2 (pg)")
    parser.add_argument("--rate", type=float, default=200.0, help="messages per second")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds at the rate, unscored")
    parser.add_argument("--conversations", type=int, default=100)
    parser.add_argument("--target", choices=sorted(TARGETS), default="web")
    parser.add_argument("--classifier", default=SCRIPTED, help='"model" for the real one')
    parser.add_argument(
        "--layout",
        choices=("single", "split", "web-only"),
        default="split",
        help="split (serve's default): each serve runs its pipeline worker in a child process, "
        "on another core; single: in the web process (REPLYLINE_WORKER_PROCESS=false); "
        "web-only: no worker (the acknowledgement path alone; nothing is drafted)",
    )
    parser.add_argument("--url", action="append", help="load running servers instead")
    parser.add_argument(
        "--answers", type=Path, help="write every request's (event id, due, seconds, status) here"
    )
    args = parser.parse_args(argv)
    processes = args.processes or (2 if args.db == "postgres" else 1)
    if args.db == "sqlite" and processes > 1:
        parser.error("SQLite is one process; use --db postgres for several")
    target = TARGETS[args.target]()

    with tempfile.TemporaryDirectory(prefix="replyline-bench-") as tmp:
        workdir = Path(tmp)
        if args.url:
            return run_against(args, args.url, target, None)
        with database(args.db, workdir) as url, platform_fakes() as fakes:
            if isinstance(target, TelegramTarget):
                target.bot_id = fakes["REPLYLINE_TELEGRAM_BOT_TOKEN"].split(":")[0]
            extra = {
                "REPLYLINE_WORKER_PROCESS": str(args.layout == "split").lower(),
                "REPLYLINE_WORKER_ENABLED": str(args.layout != "web-only").lower(),
                **fakes,
            }
            servers = [
                Server(url, args.classifier, workdir / f"server{i}.log", extra)
                for i in range(processes)
            ]
            try:
                for server in servers:
                    server.wait_ready()
                return run_against(args, servers, target, url, processes)
            finally:
                for server in servers:
                    server.stop()


def run_against(args, servers, target, database_url, processes=1) -> int:
    """`servers`: Server objects we started, or URLs of running ones."""
    urls = [
        s if isinstance(s, str) else s.url for s in servers if getattr(s, "command", "") != "worker"
    ]
    started = [s for s in servers if not isinstance(s, str)]
    print(
        f"== load: {args.rate:g}/s for {args.seconds:g} s, {target.name}, {args.db}, "
        f"{processes} web process(es), layout {args.layout}, classifier {args.classifier}, "
        f"load average before {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    loop_policy()
    if args.warmup:
        asyncio.run(generate(urls, target, args.rate, args.warmup, args.conversations, 10**7))
    cpu_before = sum(s.cpu_seconds() for s in started)
    results = asyncio.run(generate(urls, target, args.rate, args.seconds, args.conversations))
    slow_inside = [server_side_slow(url) for url in urls]
    processed, drain_s = ({}, 0.0)
    if database_url and args.layout != "web-only":
        processed, drain_s = drain(database_url, results.acknowledged, timeout=120)
    cpu = sum(s.cpu_seconds() for s in started) - cpu_before
    figures = report(f"{args.db} x{processes} {args.layout}", results, processed, drain_s)
    if args.answers:
        args.answers.write_text(json.dumps(results.answers))
    if started and results.sent_at:
        per_message = cpu / len(results.sent_at) * 1000
        print(f"server CPU: {cpu:.1f} s, {per_message:.2f} ms per message", flush=True)
    print(
        "answered in over 50 ms as the servers measured it (from receiving the request to "
        f"answering, warm-up included): {sum(slow_inside)}",
        flush=True,
    )
    met = figures["errors"] == 0 and figures["ack_ms"]["p99"] <= 50
    print(f"target (zero errors, ack p99 <= 50 ms): {'met' if met else 'MISSED'}", flush=True)
    return 0


def server_side_slow(url: str, limit: str = "0.05") -> int:
    """Webhooks a server took more than `limit` seconds to answer, by its /metrics: a tail the
    client sees but the server does not was spent before the handler ran (the event loop or
    the machine was busy) or in the client."""
    import urllib.request

    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:
        text = response.read().decode()
    count = within = 0.0
    for line in text.splitlines():
        if line.startswith("replyline_webhook_ack_seconds_count"):
            count += float(line.rsplit(" ", 1)[1])
        elif line.startswith("replyline_webhook_ack_seconds_bucket") and f'le="{limit}"' in line:
            within += float(line.rsplit(" ", 1)[1])
    return int(count - within)


def loop_policy() -> None:
    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


if __name__ == "__main__":
    sys.exit(main())
