"""State that processes cache follows changes made in another process. Across real `serve`
processes the e2e journeys check it: tests/e2e/test_playbook_reload.py (a reload reaches every
worker) and tests/e2e/test_roles.py (a role change holds on every server)."""

from __future__ import annotations

import shutil

from sqlmodel import select

from bot import state
from bot.state import StateVersions
from db.engine import session_scope
from db.models import StateVersion
from tests.support import ROOT


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

    services.settings.replies.playbook_dir = folder
    services.reload_playbooks()
    after = services.crisis.holding.drafts(None, "en", "Mei", "brand")
    assert [d.text for d in after] == ["We hear you, Mei. [brand holding]"]
    assert services.pipeline.playbooks is not old_playbooks
    assert services.pipeline.playbooks.directory == folder
