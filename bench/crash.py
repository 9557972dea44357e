"""Crash benchmark: under load, SIGKILL `replyline serve` at random moments and restart it;
then redeliver everything, as platforms do. Checks that every message that got a 2xx is
stored exactly once and processed to drafts exactly once, that redeliveries create no
duplicates, and that nothing acknowledged was lost. Prints the figures; exit 1 on a violation.

    python bench/crash.py                       # SQLite, 100/s for 30 s, 3 kills
    python bench/crash.py --db postgres --kills 5
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.load import (  # noqa: E402 (after the path set-up above)
    SCRIPTED,
    TARGETS,
    Pool,
    Results,
    Server,
    database,
    generate,
    loop_policy,
    platform_fakes,
)


async def redeliver(url: str, target, results: Results) -> dict[str, int]:
    """Send every message again; an acknowledged one must come back as a duplicate."""
    host, port = url.removeprefix("http://").split(":")
    pool = Pool(host, int(port), 16)
    outcome: Counter = Counter()
    semaphore = asyncio.Semaphore(16)

    async def again(event_id: str, n: int) -> None:
        path, headers, body, _ = target.request(n, n % CONVERSATIONS)
        async with semaphore:
            for _ in range(50):
                try:
                    status, payload = await pool.post(path, headers, body)
                except (OSError, asyncio.IncompleteReadError):
                    await asyncio.sleep(0.2)
                    continue
                if status == 200:
                    break
                await asyncio.sleep(0.2)
            else:
                outcome["never_stored"] += 1
                return
        answer = json.loads(payload)
        acknowledged = event_id in results.acknowledged
        if answer.get("duplicates") == 1:
            outcome["duplicate_of_acknowledged" if acknowledged else "stored_before_the_crash"] += 1
        elif acknowledged:
            outcome["acknowledged_but_stored_again"] += 1
        else:
            outcome["stored_on_redelivery"] += 1

    await asyncio.gather(*(again(e, n) for e, n in results.number.items()))
    await pool.close()
    return dict(outcome)


CONVERSATIONS = 40


def check(database_url: str, results: Results, seconds: float) -> dict:
    """What the database holds, and every way it could be wrong."""
    from sqlmodel import Session, select

    from db.engine import make_engine
    from db.models import Contact, Draft, Message

    engine = make_engine(database_url)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with Session(engine) as session:
            waiting = session.exec(select(Message.id).where(Message.state == "received")).all()
        if not waiting:
            break
        time.sleep(0.2)
    with Session(engine) as session:
        messages = session.exec(select(Message).where(Message.direction == "in")).all()
        drafts = session.exec(select(Draft)).all()
        contacts = session.exec(select(Contact)).all()
    engine.dispose()
    per_event = Counter(m.platform_event_id for m in messages)
    ranks: dict[int, list[int]] = {}
    for d in drafts:
        ranks.setdefault(d.message_id, []).append(d.rank)
    by_contact = Counter(m.contact_id for m in messages)
    violations = []
    missing = [e for e in results.acknowledged if per_event[e] != 1]
    if missing:
        violations.append(f"{len(missing)} acknowledged messages not stored exactly once")
    unknown = set(per_event) - set(results.number)
    if unknown:
        violations.append(f"{len(unknown)} stored messages nobody sent")
    if len(per_event) != len(results.number):
        violations.append(f"{len(results.number) - len(per_event)} messages never stored")
    unprocessed = [m.id for m in messages if m.state != "processed"]
    if unprocessed:
        violations.append(f"{len(unprocessed)} messages not processed")
    undrafted = [m.id for m in messages if m.id not in ranks]
    if undrafted:
        violations.append(f"{len(undrafted)} messages without drafts")
    twice = [i for i, r in ranks.items() if sorted(r) != list(range(len(r)))]
    if twice:
        violations.append(f"{len(twice)} messages drafted twice")
    miscounted = [c.id for c in contacts if c.message_count != by_contact[c.id]]
    if miscounted:
        violations.append(f"{len(miscounted)} contacts with a wrong message count")
    return {
        "stored": len(messages),
        "processed": len(messages) - len(unprocessed),
        "drafts": len(drafts),
        "violations": violations,
    }


def run(
    db: str = "sqlite",
    rate: float = 100,
    seconds: float = 30,
    kills: int = 3,
    classifier: str = SCRIPTED,
    seed: int | None = None,
    target_name: str = "web",
) -> dict:
    rng = random.Random(seed)
    target = TARGETS[target_name]()
    loop_policy()
    with (
        tempfile.TemporaryDirectory(prefix="replyline-crash-") as tmp,
        database(db, Path(tmp)) as url,
        platform_fakes() as fakes,  # the LINE and Telegram APIs the server answers through
    ):
        log = Path(tmp) / "server.log"
        server = Server(url, classifier, log, fakes)
        server.wait_ready()
        port = server.port
        kill_times = sorted(rng.uniform(0.1, 0.9) * seconds for _ in range(kills))
        downtime: list[float] = []

        async def scenario() -> Results:
            nonlocal server
            results = Results()
            load = asyncio.create_task(
                generate([server.url], target, rate, seconds, CONVERSATIONS, results=results)
            )
            started = time.monotonic()
            for at in kill_times:
                await asyncio.sleep(max(0.0, started + at - time.monotonic()))
                server.kill()  # SIGKILL: no cleanup, no flush, mid-request
                down = time.monotonic()
                server = await asyncio.to_thread(Server, url, classifier, log, fakes, "serve", port)
                await asyncio.to_thread(server.wait_ready)
                downtime.append(time.monotonic() - down)
            await load
            return results

        results = asyncio.run(scenario())
        redelivery = asyncio.run(redeliver(server.url, target, results))
        verdict = check(url, results, seconds=120)
        server.stop()
    figures = {
        "run": f"{db}, {rate:g}/s for {seconds:g} s, {kills} SIGKILLs",
        "sent": len(results.number),
        "acknowledged": len(results.acknowledged),
        "failed_during_crashes": sum(results.errors.values()),
        "restart_seconds": [round(d, 2) for d in downtime],
        "redelivery": redelivery,
        **verdict,
    }
    if redelivery.get("acknowledged_but_stored_again") or redelivery.get("never_stored"):
        figures["violations"].append("a redelivery created a duplicate or was never stored")
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--classifier", default=SCRIPTED)
    parser.add_argument("--target", choices=sorted(TARGETS), default="web")
    args = parser.parse_args(argv)
    figures = run(
        args.db, args.rate, args.seconds, args.kills, args.classifier, args.seed, args.target
    )
    print(json.dumps(figures, ensure_ascii=False, indent=2), flush=True)
    return 1 if figures["violations"] else 0


if __name__ == "__main__":
    sys.exit(main())
