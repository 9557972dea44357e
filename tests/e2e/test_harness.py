"""The harness itself: a wait that times out says what it waited for and shows every process's
log, with the deployment's secrets blanked out; the processes run in the layout users run."""

from __future__ import annotations

import pytest


def test_a_wait_that_times_out_names_its_goal_and_shows_the_logs_without_secrets(deployment):
    with pytest.raises(AssertionError) as failure:
        deployment.wait_until(lambda: None, "a reply that never comes", timeout=0.3)
    message = str(failure.value)
    assert "timed out after 0.3s waiting for a reply that never comes" in message
    for process in deployment.processes:
        assert f"----- {process.name} (exit None) -----" in message
        assert process.tail() and deployment.redact(process.tail())[-200:] in message
    assert not [s for s in deployment.secrets() if s in message]


def test_every_serve_runs_its_pipeline_in_a_child_process(deployment):
    for process in deployment.web:
        assert process.alive() and len(process.children()) == 1, process.name
