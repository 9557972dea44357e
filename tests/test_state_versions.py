"""State that processes cache follows changes made in another process: a playbook reload in
one web process reaches the pipeline children of every server (the next draft uses the new
text), and a role change or deactivation on one server holds on the others at once."""

from __future__ import annotations

import secrets
import shutil
import tempfile
from pathlib import Path

import pytest
from sqlmodel import select

from bot import state
from bot.state import StateVersions
from db.engine import session_scope
from db.models import StateVersion, User
from tests.e2e.harness import Deployment, Person
from tests.fakes.line_api import FakeLine
from tests.fakes.telegram_api import FakeTelegram
from tests.support import ROOT, fresh_postgres_database, postgres_available

ANA = Person("ana", "admin")
LEE = Person("lee", "admin")


def test_a_bump_in_one_process_reloads_the_others_once(engine):
    reloads: list[str] = []
    here, there = StateVersions(engine), StateVersions(engine)
    here.watch(state.PLAYBOOKS, lambda: reloads.append("here"))
    there.watch(state.PLAYBOOKS, lambda: reloads.append("there"))
    assert there.check() == [] and reloads == []

    with session_scope(engine) as session:  # `here` changed it and reloaded itself
        state.bump(session, state.PLAYBOOKS)
        session.flush()
        here.saw(state.PLAYBOOKS, session)
    assert here.check() == [] and there.check() == [state.PLAYBOOKS]
    assert reloads == ["there"]
    assert there.check() == []  # once

    with session_scope(engine) as session:
        state.bump(session, state.PLAYBOOKS)
    assert there.check() == [state.PLAYBOOKS] and here.check() == [state.PLAYBOOKS]
    with session_scope(engine) as session:
        version = session.exec(select(StateVersion.version)).one()
    assert version == 2


def test_a_reload_that_fails_keeps_the_process_going(engine):
    def broken() -> None:
        raise ValueError("a broken file")

    versions = StateVersions(engine)
    versions.watch(state.PLAYBOOKS, broken)
    with session_scope(engine) as session:
        state.bump(session, state.PLAYBOOKS)
    assert versions.check() == [state.PLAYBOOKS]  # logged, and not retried until next change
    assert versions.check() == []


def test_a_reload_takes_the_whole_playbook_folder_with_the_crisis_playbook(services, tmp_path):
    folder = tmp_path / "playbooks"
    shutil.copytree(ROOT / "playbooks" / "default", folder)
    (folder / "crisis").mkdir()
    (folder / "crisis" / "holding.yaml").write_text(
        'templates:\n  default:\n    en: ["We hear you, {name}. [brand holding]"]\n'
        '    zh-Hant: ["我們知道了。[brand holding]"]\n',
        encoding="utf-8",
    )
    old_playbooks = services.pipeline.playbooks
    before = services.crisis.holding.drafts(None, "en", "Mei", "brand")
    assert not any("[brand holding]" in d.text for d in before)

    services.settings.playbook_dir = folder
    services.reload_playbooks()
    after = services.crisis.holding.drafts(None, "en", "Mei", "brand")
    assert [d.text for d in after] == ["We hear you, Mei. [brand holding]"]
    assert services.pipeline.playbooks is not old_playbooks
    assert services.pipeline.playbooks.directory == folder


@pytest.fixture
def two_servers():
    """Two `replyline serve` on one PostgreSQL database, each with its pipeline child."""
    if reason := postgres_available():
        pytest.skip(reason)
    workdir = Path(tempfile.mkdtemp(prefix="replyline-state-"))
    telegram, line = FakeTelegram().start(), FakeLine().start()
    shutil.copytree(ROOT / "playbooks" / "default", workdir / "playbooks")
    with fresh_postgres_database(migrated=True) as url:
        d = Deployment(
            url,
            workdir,
            telegram,
            line,
            [ANA, LEE],
            classifier="tests.support:ScriptedClassifier",
            playbook_dir=str(workdir / "playbooks"),
        )
        try:
            d.start(("serve-a", "serve-b"))
            yield d
        finally:
            d.stop()
            telegram.stop()
            line.stop()
            shutil.rmtree(workdir, ignore_errors=True)


@pytest.mark.timeout(300)
def test_changes_on_one_server_hold_on_the_other_and_in_every_worker(two_servers):
    d = two_servers
    a, b = d.web
    marker = f"[edited {secrets.token_hex(3)}]"
    advocate = d.workdir / "playbooks" / "advocate.yaml"
    text = advocate.read_text()
    assert "{name}]]!" in text  # "Thank you[[, {name}]]!": the name is optional
    advocate.write_text(text.replace("{name}]]!", "{name}]]! " + marker))
    d.console("ana", a).post("/console/playbooks/reload")

    for n in range(4):  # whichever of the two children drafts them
        d.chat(b if n % 2 else a).say(f"advocate: thank you so much, you are great {n}")
    for n in range(4):
        d.top_draft(f"you are great {n}")
        message = d.inbound(f"you are great {n}")
        texts = [x.text for x in d.drafts_of(message.id)]
        assert any(marker in t for t in texts), f"draft {n} kept the old text: {texts}"

    lee_on_b = d.console("lee", b)
    assert lee_on_b.http.get("/console/users").status_code == 200
    lee_id = d.query(lambda s: s.exec(select(User.id).where(User.username == "lee")).one())
    ana_on_a = d.console("ana", a)
    ana_on_a.post(f"/console/users/{lee_id}", role="agent")
    response = lee_on_b.http.get("/console/users", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/console/login"
    lee_on_b = d.console("lee", b)  # signed in again, now as an agent
    assert lee_on_b.http.get("/console/users").status_code == 403
    ana_on_a.post(f"/console/users/{lee_id}", active="no")
    response = lee_on_b.http.get("/console", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/console/login"
