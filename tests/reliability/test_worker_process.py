"""`serve` with REPLYLINE_WORKER_PROCESS: the pipeline runs in a child process that the web
process wakes on new work, replaces when it dies, and that stops when the web process dies."""

import os
import signal
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session, select

from db.engine import make_engine
from db.models import Draft, Message
from tests.support import ServeProcess, wait_for


def children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def drafted(engine, client_id: str) -> bool:
    with Session(engine) as session:
        message = session.exec(
            select(Message).where(Message.platform_event_id.endswith(":" + client_id))
        ).first()
        return message is not None and bool(
            session.exec(select(Draft.id).where(Draft.message_id == message.id)).first()
        )


@pytest.mark.timeout(400)
def test_the_worker_child_is_woken_replaced_and_ends_with_the_web_process(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'split.db'}"
    # polling alone would take 300 s: a draft within a minute means the pipe woke the child
    # (a minute, not seconds: on a loaded 2-core machine a woken child can take 10 s and more)
    server = ServeProcess(
        db_url,
        tmp_path / "server.log",
        worker_process="true",
        worker_poll_seconds="300",
        classifier="tests.support:ScriptedClassifier",
        worker_warm_up="false",  # each child would load the encoder this test does not need
    )
    engine = make_engine(db_url)
    client = httpx.Client(base_url=server.url)
    client.get("/chat")
    seen: set[int] = set()
    try:
        assert wait_for(lambda: len(children(server.proc.pid)) == 1, 30)
        (first,) = children(server.proc.pid)
        seen.add(first)

        def say(n: int) -> None:
            r = client.post(
                "/chat/api/messages",
                json={"text": f"advocate: thank you {n}", "client_id": f"split-msg-{n}"},
            )
            assert r.status_code == 200 and r.json()["stored"] == 1

        # praise: no FAQ search or crisis story, so the children need not load the encoder
        say(0)
        assert wait_for(lambda: drafted(engine, "split-msg-0"), 150), "the child does not work"
        say(1)  # now it idles until woken
        assert wait_for(lambda: drafted(engine, "split-msg-1"), 60), "the child was not woken"

        os.kill(first, signal.SIGKILL)  # the child dies: the web process starts another
        assert wait_for(lambda: children(server.proc.pid) not in ([], [first]), 30)
        (second,) = children(server.proc.pid)
        seen.add(second)
        say(2)
        assert wait_for(lambda: drafted(engine, "split-msg-2"), 150), "the new child does not work"

        server.kill()  # SIGKILL the web process: its child must not outlive it
        assert wait_for(lambda: not alive(second), 15), "the worker child was orphaned"
    finally:
        server.kill()
        for pid in seen:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        engine.dispose()


@pytest.mark.timeout(400)
def test_the_worker_child_loads_the_model_before_the_first_message(tmp_path):
    """After a restart the first customer must not wait 10-45 s for the encoder and FAQ index:
    the child loads them as it starts, and says so in the log an operator reads."""
    db_url = f"sqlite:///{tmp_path / 'warm.db'}"
    log = tmp_path / "server.log"
    server = ServeProcess(
        db_url, log, worker_process="true", classifier="tests.support:ScriptedClassifier"
    )
    engine = make_engine(db_url)
    try:
        ready = "warm-up: the model and FAQ index are ready"
        assert wait_for(lambda: ready in log.read_text(), 300), log.read_text()[-2000:]
        with Session(engine) as session:
            assert session.exec(select(Message.id)).first() is None  # before any message

        client = httpx.Client(base_url=server.url)
        client.get("/chat")
        r = client.post(
            "/chat/api/messages",
            json={"text": "question: how long does shipping take?", "client_id": "warm-msg-0"},
        )
        assert r.status_code == 200 and r.json()["stored"] == 1
        assert wait_for(lambda: drafted(engine, "warm-msg-0"), 60), log.read_text()[-2000:]
        assert "warm-up failed" not in log.read_text()
    finally:
        server.kill()


def test_a_failed_warm_up_is_one_log_line_and_leaves_the_lazy_load(caplog):
    from types import SimpleNamespace

    from bot.pipeline.warm_up import warm_up_in_background
    from nlp.settings import NlpSettings

    def broken():
        raise OSError("no model files in /nowhere")

    pipeline = SimpleNamespace(classifier=broken)
    with caplog.at_level("INFO", logger="bot.pipeline.warm_up"):
        warm_up_in_background(pipeline, NlpSettings()).join(10)
    assert [r.getMessage() for r in caplog.records] == [
        "warm-up failed (OSError: no model files in /nowhere); "
        "the model loads at the first message instead"
    ]
