"""A real `replyline serve` killed with SIGKILL between "stored" and "drafted" finishes the
work exactly once after a restart, with the real classifier."""

import time
from collections import Counter

import httpx
import pytest
from sqlmodel import Session, select

from db.engine import make_engine
from db.models import Contact, Draft, Message
from tests.support import ServeProcess, wait_for


def states(engine) -> Counter:
    with Session(engine) as session:
        return Counter(
            m.state for m in session.exec(select(Message).where(Message.direction == "in"))
        )


@pytest.mark.timeout(400)
def test_killed_between_stored_and_drafted_finishes_exactly_once(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'crash.db'}"
    log = tmp_path / "server.log"
    texts = [
        "請問週末有營業嗎？",
        "訂單三天了還沒到，很失望",
        "你們的拿鐵超好喝！",
        "Do you ship to Kaohsiung?",
        "the box arrived crushed, please help",
    ]

    server = ServeProcess(db_url, log, worker_enabled="false")
    client = httpx.Client(base_url=server.url)
    client.get("/chat")
    for i, text in enumerate(texts):
        r = client.post("/chat/api/messages", json={"text": text, "client_id": f"crash-msg-{i}"})
        assert r.status_code == 200 and r.json()["stored"] == 1
    server.kill()  # acknowledged, stored, nothing drafted yet
    engine = make_engine(db_url)
    assert states(engine) == Counter({"received": 5})

    server = ServeProcess(db_url, log)
    client = httpx.Client(base_url=server.url, cookies=client.cookies)
    assert wait_for(lambda: states(engine)["processed"] >= 1)
    server.kill()  # possibly in the middle of the batch

    server = ServeProcess(db_url, log)
    client = httpx.Client(base_url=server.url, cookies=client.cookies)
    redelivered = client.post(
        "/chat/api/messages", json={"text": texts[0], "client_id": "crash-msg-0"}
    )
    assert redelivered.json()["duplicates"] == 1
    assert wait_for(lambda: states(engine) == Counter({"processed": 5}))
    time.sleep(1)
    server.kill()

    with Session(engine) as session:
        messages = session.exec(select(Message).where(Message.direction == "in")).all()
        drafts = session.exec(select(Draft)).all()
        contact = session.exec(select(Contact)).one()
    assert len(messages) == 5 and contact.message_count == 5
    per_message = Counter(d.message_id for d in drafts)
    assert set(per_message) == {m.id for m in messages}
    for message in messages:
        ranks = [d.rank for d in drafts if d.message_id == message.id]
        assert sorted(ranks) == list(range(len(ranks))), "a message was drafted twice"
