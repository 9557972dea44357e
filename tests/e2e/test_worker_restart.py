"""The pipeline worker child of `serve` is killed (SIGKILL) while messages wait for it: `serve`
starts another, which finishes the work, and every message is drafted once, not twice.

The other pipeline workers of the compose layout are paused meanwhile, so only the restarted
child can do the work."""

from __future__ import annotations

import contextlib
import os
import signal
import time

from sqlmodel import select

from db.models import Message

MESSAGES = 3


def test_a_killed_worker_child_is_replaced_and_the_work_is_drafted_once(deployment):
    serve = deployment.web[0]
    [child] = serve.children()
    others = [c for p in deployment.web[1:] for c in p.children()]
    others += [p.proc.pid for p in deployment.processes if p.port is None]
    marker = f"(restart {deployment.layout})"

    def pending() -> list[Message]:
        return deployment.query(
            lambda s: s.exec(
                select(Message).where(Message.text.contains(marker), Message.state == "received")
            ).all()
        )

    visitor = deployment.chat(serve)
    for pid in [child, *others]:
        os.kill(pid, signal.SIGSTOP)
    try:
        for n in range(MESSAGES):
            visitor.say(f"Thank you for the quick delivery, the tea is wonderful {n} {marker}")
        assert len(pending()) == MESSAGES  # stored and acknowledged, waiting for the worker
        os.kill(child, signal.SIGCONT)  # it wakes to the work ...
        time.sleep(0.05)
        os.kill(child, signal.SIGKILL)  # ... and dies, before or while working on it
        replaced = deployment.wait_until(
            lambda: [c for c in serve.children() if c != child], "serve to start a new child"
        )
        deployment.wait_until(lambda: not pending(), "the new child to draft the messages", 90)
    finally:
        for pid in [child, *others]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)

    assert serve.alive() and replaced != [child]
    messages = deployment.query(
        lambda s: s.exec(select(Message).where(Message.text.contains(marker))).all()
    )
    assert {m.state for m in messages} == {"processed"}
    for message in messages:
        ranks = [d.rank for d in deployment.drafts_of(message.id)]
        assert ranks and len(ranks) == len(set(ranks)), f"message {message.id} drafted {ranks}"
