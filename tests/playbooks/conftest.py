"""Fixtures for the playbook tests: the default playbooks with and without the real encoder."""

from __future__ import annotations

import pytest

from playbooks.engine import Playbooks
from playbooks.faq import encoder_embed


@pytest.fixture(scope="session")
def books() -> Playbooks:
    """The default playbooks with FAQ search on the real shared encoder."""
    loaded = Playbooks.load(embed=encoder_embed())
    loaded.faq.search("warm up")
    assert loaded.faq.failed is None, loaded.faq.failed
    return loaded
