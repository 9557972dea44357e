"""Crash under load (a smaller run of bench/crash.py): `replyline serve` killed with SIGKILL
while messages stream in, then restarted; every acknowledged message is stored and drafted
exactly once, and redeliveries store nothing twice."""

import pytest

from bench.crash import run


@pytest.mark.timeout(300)
def test_sigkill_under_load_loses_and_duplicates_nothing():
    figures = run(db="sqlite", rate=40, seconds=6, kills=1, seed=8)
    assert figures["violations"] == []
    assert figures["acknowledged"] > 0 and figures["failed_during_crashes"] > 0
    assert figures["redelivery"]["duplicate_of_acknowledged"] == figures["acknowledged"]
    assert figures["processed"] == figures["sent"]
