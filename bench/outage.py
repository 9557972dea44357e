"""Database outage benchmark: signed LINE webhooks at a steady rate against one real
`replyline serve` process while PostgreSQL goes away for a while (a TCP proxy between the app
and the database refuses new connections and breaks open ones, as a stopped server would).

Checks the promise a platform relies on: a 2xx only for events that are stored (anything else
gets a 5xx, so the platform redelivers), and the same process recovers on its own when the
database is back. Like LINE, the generator redelivers every event that got no 2xx (nor an
answer within 10 s) later: the same webhookEventId and timestamp, deliveryContext.isRedelivery
set, backing off 10 s, 20 s, 30 s, ... until acknowledged. Then it waits for the pipeline to
draft every acknowledged event (as long as it makes progress: at 50/s it falls behind, so this
adds to the ~1.5 min of the run) and checks the database. Prints the figures as JSON and a
target line; exit 1 when missed.

    python bench/outage.py                            # 50/s: 10 s before, 30 s out, 30 s after
    python bench/outage.py --outage 60 --rate 100 --timeline
    python bench/outage.py --classifier model         # the real classifier in the pipeline

Phases go by when a request was due: before the cut, during the outage, after the restore.
LINE profile look-ups go to the loopback fakes of bench/load.py, so nothing leaves the
machine."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.load import (  # noqa: E402 (after the path set-up above)
    SCRIPTED,
    LineTarget,
    Pool,
    Results,
    Server,
    database,
    drain,
    generate,
    loop_policy,
    percentile,
    platform_fakes,
)

TIMEOUT = 10.0  # seconds a request may take before it counts as hung (LINE gives up sooner)
CONVERSATIONS = 40


def ok(status: int | str) -> bool:
    return isinstance(status, int) and 200 <= status < 300


# ---------------------------------------------------------------- the platform redelivers


@dataclass
class Redeliveries:
    """Every redelivery: (event id, wall clock when sent, seconds to the answer, status or
    error, answer body)."""

    answers: list[tuple[str, float, float, int | str, dict]] = field(default_factory=list)
    acknowledged: set[str] = field(default_factory=set)
    gave_up: set[str] = field(default_factory=set)


async def redeliver(
    url: str,
    target: LineTarget,
    results: Results,
    load_done: asyncio.Event,
    first_delay: float,
    give_up_after: float,
) -> Redeliveries:
    """Send again, later, each event whose last delivery got no 2xx, doubling the wait each
    time (at most 30 s), until it is acknowledged or `give_up_after` seconds past the load."""
    host, port = url.removeprefix("http://").split(":")
    pool = Pool(host, int(port), 512, TIMEOUT)  # a platform does not queue on our side
    out = Redeliveries()
    waiting: dict[str, tuple[float, float]] = {}  # event id -> (when due, the wait used)
    seen, flying = 0, set()

    async def again(event_id: str, wait: float) -> None:
        n = results.number[event_id]
        path, headers, body, _ = target.request(n, n % CONVERSATIONS)
        started, sent = time.perf_counter(), time.time()
        try:
            status, payload = await pool.post(path, headers, body)
            answer = json.loads(payload) if ok(status) else {}
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError) as error:
            status, answer = type(error).__name__, {}
        out.answers.append((event_id, sent, time.perf_counter() - started, status, answer))
        if ok(status):
            out.acknowledged.add(event_id)
        else:
            later = min(30.0, wait * 2)
            waiting[event_id] = (time.time() + later, later)

    give_up_at = None
    while True:
        for event_id, due, latency, status in results.answers[seen:]:
            if not ok(status):
                waiting[event_id] = (due + latency + first_delay, first_delay)
        seen = len(results.answers)
        now = time.time()
        for event_id, (when, wait) in list(waiting.items()):
            if when <= now:
                del waiting[event_id]
                task = asyncio.create_task(again(event_id, wait))
                flying.add(task)
                task.add_done_callback(flying.discard)
        if load_done.is_set():
            give_up_at = give_up_at or now + give_up_after
            if not waiting and not flying and seen == len(results.answers):
                break
            if now > give_up_at:
                out.gave_up = set(waiting)
                break
        await asyncio.sleep(0.25)
    if flying:
        await asyncio.gather(*flying)
    await pool.close()
    return out


# ---------------------------------------------------------------- the database goes away


class ProxyProcess:
    """tests/reliability/tcpproxy.py in a process of its own: its pump threads would otherwise
    share this process's GIL with the load generator and slow every database round trip."""

    def __init__(self, upstream: tuple[str, int]):
        context = multiprocessing.get_context("spawn")
        self._control, child = context.Pipe()
        self._process = context.Process(target=_proxy_main, args=(upstream, child), daemon=True)
        self._process.start()
        self.port = self._control.recv()

    def _ask(self, command: str) -> None:
        self._control.send(command)
        self._control.recv()  # done

    def cut(self) -> None:
        self._ask("cut")

    def restore(self) -> None:
        self._ask("restore")

    def close(self) -> None:
        if self._process.is_alive():
            self._ask("close")
        self._process.join(10)


def _proxy_main(upstream: tuple[str, int], control) -> None:
    from tests.reliability.tcpproxy import TcpProxy

    proxy = TcpProxy(upstream)
    control.send(proxy.port)
    while (command := control.recv()) != "close":
        getattr(proxy, command)()
        control.send("done")
    proxy.close()
    control.send("done")


# ---------------------------------------------------------------- the run


@dataclass
class Timeline:
    cut_at: float = 0.0
    restored_at: float = 0.0
    alive_throughout: bool = True  # the server process never exited while we watched
    loop_lag_max: float = 0.0  # the generator's own stalls: figures are disturbed when large
    switch_s: list[float] = field(default_factory=list)  # how long cutting, restoring took


async def scenario(server: Server, proxy, args) -> tuple[Results, Redeliveries, Timeline]:
    results, timeline, done = Results(), Timeline(), asyncio.Event()
    target = LineTarget()  # shared: sending an event again makes it a redelivery
    seconds = args.before + args.outage + args.after
    load = asyncio.create_task(
        generate(
            [server.url], target, args.rate, seconds, CONVERSATIONS, 0, results,
            timeout=TIMEOUT,
        )
    )  # fmt: skip
    platform = asyncio.create_task(
        redeliver(server.url, target, results, done, args.redeliver_after, give_up_after=60)
    )

    async def watch() -> None:
        while not done.is_set():
            timeline.alive_throughout &= server.proc.poll() is None
            asked = time.perf_counter()
            await asyncio.sleep(0.1)
            timeline.loop_lag_max = max(timeline.loop_lag_max, time.perf_counter() - asked - 0.1)

    def timed(action) -> float:
        action()
        return time.time()

    async def switch(action) -> float:
        """Cut or restore off the event loop; returns when it had taken effect."""
        started = time.time()
        done_at = await asyncio.to_thread(timed, action)
        timeline.switch_s.append(round(done_at - started, 3))
        return done_at

    watcher = asyncio.create_task(watch())
    await asyncio.sleep(args.before)
    timeline.cut_at = await switch(proxy.cut)
    await asyncio.sleep(args.outage)
    timeline.restored_at = await switch(proxy.restore)
    await load
    done.set()
    redeliveries = await platform
    await watcher
    return results, redeliveries, timeline


def stored_state(database_url: str) -> dict[str, dict]:
    """platform event id -> {rows, state, drafts} for every inbound LINE message."""
    from sqlalchemy import func
    from sqlmodel import Session, select

    from db.engine import make_engine
    from db.models import Draft, Message

    engine = make_engine(database_url)
    with Session(engine) as session:
        rows = session.exec(
            select(Message.id, Message.platform_event_id, Message.state).where(
                Message.direction == "in", Message.channel == "line"
            )
        ).all()
        drafts = dict(
            session.exec(select(Draft.message_id, func.count()).group_by(Draft.message_id)).all()
        )
    engine.dispose()
    state: dict[str, dict] = {}
    for message_id, event_id, message_state in rows:
        entry = state.setdefault(event_id, {"rows": 0, "state": message_state, "drafts": 0})
        entry["rows"] += 1
        entry["drafts"] += drafts.get(message_id, 0)
    return state


def phase_of(due: float, timeline: Timeline) -> str:
    if due < timeline.cut_at:
        return "before"
    return "during" if due < timeline.restored_at else "after"


def ms(values: list[float]) -> dict:
    values = [v * 1000 for v in values]
    return {
        "p50": round(percentile(values, 50), 1) if values else None,
        "p99": round(percentile(values, 99), 1) if values else None,
        "max": round(max(values), 1) if values else None,
    }


def status_kind(status: int | str) -> str:
    if ok(status):
        return "2xx"
    if isinstance(status, int):
        return "5xx" if status >= 500 else "other"
    return "no_answer"  # connection error or hung past the timeout


def recovery(results: Results, timeline: Timeline, before_p50: float) -> dict:
    """Seconds from the restore to the first 2xx, to the start of the final unbroken run of
    2xx (`all_acked_from_s`), and to when the ack latency is back to normal for good
    (`latency_normal_from_s`: every later one-second window acked in full, its median at most
    max(2 x, 20 ms more than) the median before the outage)."""
    after = sorted(
        (due, latency, status)
        for _, due, latency, status in results.answers
        if due >= timeline.restored_at
    )
    first = [due + latency for due, latency, status in after if ok(status)]
    figures = {"first_2xx_s": round(min(first) - timeline.restored_at, 2) if first else None}
    unbroken = None
    for due, _, status in reversed(after):
        if not ok(status):
            break
        unbroken = due
    figures["all_acked_from_s"] = (
        round(unbroken - timeline.restored_at, 2) if unbroken is not None else None
    )
    limit = max(2 * before_p50, before_p50 + 0.020)
    windows: dict[int, list] = {}
    for due, latency, status in after:
        windows.setdefault(int(due - timeline.restored_at), []).append((latency, status))
    normal_from = None
    for second in sorted(windows, reverse=True):
        window = windows[second]
        if all(ok(s) for _, s in window) and percentile([x for x, _ in window], 50) <= limit:
            normal_from = second
        else:
            break
    figures["latency_normal_from_s"] = normal_from
    figures["latency_normal_means_p50_ms_at_most"] = round(limit * 1000, 1)
    return figures


def per_second(results: Results, timeline: Timeline) -> list[str]:
    """One line a second (by when requests were due, from the cut): requests, 2xx, 5xx,
    no answer, ack p50 and max in ms."""
    seconds: dict[int, list] = {}
    for _, due, latency, status in results.answers:
        seconds.setdefault(int((due - timeline.cut_at) // 1), []).append((latency, status))
    lines = []
    for second in sorted(seconds):
        answers = seconds[second]
        kinds = Counter(status_kind(s) for _, s in answers)
        acked = [lat * 1000 for lat, s in answers if ok(s)]
        lines.append(
            f"{second:+4d}s n={len(answers)} 2xx={kinds['2xx']} 5xx={kinds['5xx']} "
            f"none={kinds['no_answer']} ack_p50={percentile(acked, 50):.0f} "
            f"ack_max={max(acked, default=float('nan')):.0f} "
            f"fail_max={max((lat * 1000 for lat, s in answers if not ok(s)), default=0):.0f}"
        )
    return lines


def figures_of(results, redeliveries, timeline, state, processed, args) -> dict:
    phases = {name: [] for name in ("before", "during", "after")}
    for answer in results.answers:
        phases[phase_of(answer[1], timeline)].append(answer)
    per_phase = {}
    for name, answers in phases.items():
        kinds = Counter(status_kind(s) for *_, s in answers)
        per_phase[name] = {
            "requests": len(answers),
            **{k: kinds.get(k, 0) for k in ("2xx", "5xx", "other", "no_answer")},
            "statuses": dict(Counter(str(s) for *_, s in answers)),
            "ack_ms": ms([lat for _, _, lat, s in answers if ok(s)]),
        }
    during = phases["during"]
    per_phase["during"]["failure_answer_ms"] = ms([lat for _, _, lat, s in during if not ok(s)])

    # What got a 2xx, when (fresh deliveries and redeliveries alike).
    acks = [(e, due + lat) for e, due, lat, s in results.answers if ok(s)]
    acks += [(e, sent + lat) for e, sent, lat, s, _ in redeliveries.answers if ok(s)]
    acked = {e for e, _ in acks}
    out = [e for e, at in acks if timeline.cut_at <= at < timeline.restored_at]
    not_stored = {e for e in acked if e not in state}
    redelivered = Counter(status_kind(s) for *_, s, _ in redeliveries.answers)
    found_stored = sum(a.get("duplicates", 0) for *_, a in redeliveries.answers)
    before_p50 = percentile([lat for _, _, lat, s in phases["before"] if ok(s)], 50)
    return {
        "run": (
            f"postgres via a proxy, {args.rate:g}/s: {args.before:g} s before, "
            f"{args.outage:g} s out, {args.after:g} s after; classifier {args.classifier}; "
            f"layout {args.layout}; crisis detection {'on' if args.crisis else 'off'}"
        ),
        "outage_s": round(timeline.restored_at - timeline.cut_at, 2),
        "bench": {  # large values: the generator itself stalled, the figures are disturbed
            "loop_lag_max_ms": round(timeline.loop_lag_max * 1000, 1),
            "cut_and_restore_took_s": timeline.switch_s,
        },
        "before_outage": per_phase["before"],
        "during_outage": per_phase["during"],
        "after_outage": per_phase["after"],
        "acks_during_outage": len(out),
        "acks_during_outage_not_stored": len(set(out) & not_stored),
        "recovery": recovery(results, timeline, before_p50),
        "redeliveries": {
            "requests": len(redeliveries.answers),
            "events": len({e for e, *_ in redeliveries.answers}),
            **{k: redelivered.get(k, 0) for k in ("2xx", "5xx", "other", "no_answer")},
            "ack_ms": ms([lat for _, _, lat, s, _ in redeliveries.answers if ok(s)]),
            "already_stored": found_stored,  # a 5xx whose commit went through after all
            "never_acknowledged": len(redeliveries.gave_up),
        },
        "events_sent": len(results.number),
        "events_acknowledged": len(acked),
        "acked_not_stored": len(not_stored),
        "stored": len(state),
        "stored_more_than_once": sum(1 for s in state.values() if s["rows"] > 1),
        "stored_never_sent": len(set(state) - set(results.number)),
        "acked_processed": sum(1 for e in acked if e in processed),
        "acked_without_draft": sum(1 for e in acked if state.get(e, {}).get("drafts", 0) == 0),
        "message_states": dict(Counter(s["state"] for s in state.values())),
    }


def verdict(figures: dict, server_figures: dict) -> list[str]:
    missed = []
    during = figures["during_outage"]
    if figures["acks_during_outage_not_stored"] or figures["acked_not_stored"]:
        missed.append("a 2xx for an event that is not stored")
    if during["other"] or during["no_answer"]:
        missed.append("requests during the outage got neither a 2xx nor a 5xx (or hung)")
    if figures["recovery"]["all_acked_from_s"] is None or figures["after_outage"]["2xx"] == 0:
        missed.append("webhooks did not recover after the outage")
    if figures["events_acknowledged"] != figures["events_sent"]:
        missed.append("events never acknowledged despite redelivery")
    if figures["stored_more_than_once"] or figures["stored_never_sent"]:
        missed.append("events stored twice or stored without being sent")
    if figures["acked_processed"] != figures["events_acknowledged"]:
        missed.append("acknowledged events not processed")
    if figures["acked_without_draft"]:
        missed.append("processed events without a draft")
    if server_figures["restarted"]:
        missed.append("the server process exited or restarted")
    return missed


def start_ticks(pid: int) -> int | None:
    """When the process started (clock ticks since boot): another process with a reused PID
    would differ."""
    with contextlib.suppress(OSError):
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    return None


def log_summary(log: Path) -> dict:
    """How loudly the server complained: log lines by level, and the first error lines."""
    lines = log.read_text(errors="replace").splitlines()
    levels = Counter()
    errors = []
    for line in lines:
        for level in ("WARNING", "ERROR", "CRITICAL"):
            if f" {level} " in line or f'"{level}"' in line:
                levels[level] += 1
                if level != "WARNING" and len(errors) < 5:
                    errors.append(line[:300])
    levels["traceback"] = sum(1 for line in lines if line.startswith("Traceback"))
    # 2 when the scheduler lost its leader lock in the outage and took it again after
    levels["scheduler_lead_taken"] = sum("now runs the scheduled jobs" in line for line in lines)
    return {"lines": len(lines), **levels, "first_errors": errors}


def run(args) -> tuple[dict, bool]:
    from sqlalchemy.engine import make_url

    loop_policy()
    with (
        tempfile.TemporaryDirectory(prefix="replyline-outage-") as tmp,
        database("postgres", Path(tmp)) as direct,
        platform_fakes() as fakes,
    ):
        upstream = make_url(direct)
        proxy = ProxyProcess((upstream.host or "127.0.0.1", upstream.port or 5432))
        via = upstream.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        log = Path(args.log) if args.log else Path(tmp) / "server.log"
        extra = {
            **fakes,
            "REPLYLINE_CRISIS_ENABLED": str(args.crisis).lower(),
            "REPLYLINE_WORKER_PROCESS": str(args.layout == "split").lower(),
        }
        server = Server(via, args.classifier, log, extra)
        try:
            server.wait_ready()
            pid, ticks = server.proc.pid, start_ticks(server.proc.pid)
            warm = warm_up(server, direct, args)
            print(
                f"== outage: {args.rate:g}/s, {args.before:g} s + {args.outage:g} s without "
                f"PostgreSQL + {args.after:g} s; server pid {pid}; "
                f"load average before {os.getloadavg()[0]:.1f}",
                flush=True,
            )
            results, redeliveries, timeline = asyncio.run(scenario(server, proxy, args))
            acked = results.acknowledged | redeliveries.acknowledged
            backlog = sum(s["state"] == "received" for s in stored_state(direct).values())
            processed, drain_s = drain_while_progressing(direct, acked, args.drain_max)
            state = stored_state(direct)
            server_figures = {
                "pid": pid,
                "restarted": not timeline.alive_throughout
                or server.proc.poll() is not None
                or start_ticks(pid) != ticks,
                "healthy_at_end": healthy(server),
            }
        finally:
            server.stop()
            proxy.close()
        for event_id in warm.number:  # not part of the run
            state.pop(event_id, None)
        figures = figures_of(results, redeliveries, timeline, state, processed, args)
        figures["drain"] = {
            "backlog_at_end_of_load": backlog,
            "seconds": round(drain_s, 1),
            "drafted_per_s": round(backlog / drain_s, 1) if drain_s and backlog else None,
        }
        if args.timeline:
            figures["per_second_from_cut"] = per_second(results, timeline)
        figures["server"] = server_figures
        figures["server_log"] = log_summary(log)
    missed = verdict(figures, server_figures)
    figures["missed"] = missed
    return figures, not missed


def drain_while_progressing(
    database_url: str, ids: set[str], most: float, stall: float = 30.0
) -> tuple[dict[str, float], float]:
    """Wait until every acknowledged event is processed, as long as the pipeline gets on
    (it may be far behind: it drafts more slowly than 50 webhooks a second come in)."""
    started, before = time.monotonic(), -1
    while True:
        processed, _ = drain(database_url, ids, timeout=stall)
        spent = time.monotonic() - started
        if len(processed) >= len(ids) or len(processed) == before or spent > most:
            return processed, spent
        before = len(processed)


def warm_up(server: Server, database_url: str, args) -> Results:
    """A few seconds at the rate, unscored, drained to drafts: the first drafts load the FAQ
    encoder, which would otherwise land in the figures before the outage."""
    warm = asyncio.run(
        generate([server.url], LineTarget(), args.rate, args.warmup, CONVERSATIONS, 10**7)
    )
    drain(database_url, warm.acknowledged, timeout=300)
    return warm


def healthy(server: Server) -> bool:
    import urllib.request

    with (
        contextlib.suppress(OSError),
        urllib.request.urlopen(server.url + "/healthz", timeout=5) as answer,  # noqa: S310
    ):
        return answer.status == 200
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=50.0, help="webhooks per second")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds at the rate, unscored")
    parser.add_argument("--before", type=float, default=10.0, help="seconds before the outage")
    parser.add_argument("--outage", type=float, default=30.0, help="seconds without PostgreSQL")
    parser.add_argument("--after", type=float, default=30.0, help="seconds after it")
    parser.add_argument(
        "--redeliver-after", type=float, default=10.0, help="first redelivery, then doubling"
    )
    parser.add_argument(
        "--drain-max", type=float, default=600, help="seconds to wait for the drafts at most"
    )
    parser.add_argument(
        "--crisis",
        action="store_true",
        help="keep crisis detection on: after a minute or two, the synthetic traffic (40 people "
        "writing near the same words) opens an incident, whose drafting then dominates",
    )
    parser.add_argument(
        "--layout",
        choices=("single", "split"),
        default="single",
        help="single: the pipeline worker runs in the serve process; split: in its child "
        "process (REPLYLINE_WORKER_PROCESS), as in bench/load.py",
    )
    parser.add_argument("--classifier", default=SCRIPTED, help='"model" for the real one')
    parser.add_argument("--timeline", action="store_true", help="add one line per second")
    parser.add_argument("--log", help="keep the server log here (default: a temporary file)")
    args = parser.parse_args(argv)
    figures, met = run(args)
    print(json.dumps(figures, ensure_ascii=False, indent=2), flush=True)
    print(
        "target (no 2xx for unstored data, recovery without restart): "
        + ("met" if met else "MISSED"),
        flush=True,
    )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
