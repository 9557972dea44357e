"""Draft quality from examples/: `replyline simulate examples/reviewed_monday.jsonl` then
`replyline report` shows, per playbook and type, the share answered with an unedited draft,
the median edit and the median time to decision, counted from the team's recorded decisions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

from bot.reports.sections import edit_size

ROOT = Path(__file__).resolve().parents[2]
REVIEWED = ROOT / "examples" / "reviewed_monday.jsonl"


def run(db_url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "REPLYLINE_DATABASE_URL": db_url}
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=900)  # fmt: skip


def test_edit_size_counts_characters_removed_and_added():
    assert edit_size("謝謝您的支持！", "謝謝您的支持！") == 0
    assert edit_size("Thanks!", "Thanks a lot!") == 6
    assert edit_size("", "全新回覆") == 4


def test_the_report_from_examples_shows_draft_quality_per_playbook_and_type(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'r.db'}"
    simulated = run(db_url, "simulate", str(REVIEWED))
    assert simulated.returncode == 0, simulated.stderr[-3000:]
    actions = Counter(
        json.loads(line)["review"]["action"]
        for line in REVIEWED.read_text(encoding="utf-8").splitlines()
    )
    assert json.loads(simulated.stdout)["reviewed"] == sum(actions.values())
    out = tmp_path / "report"
    made = run(db_url, "report", "--from", "2026-11-23", "--to", "2026-11-23", "--out", str(out))
    assert made.returncode == 0, made.stderr[-3000:]
    groups = json.loads((out / "report.json").read_text())["draft_quality"]["by_playbook_and_type"]
    assert (
        sum(g["answered"] for g in groups)
        == actions["approve"] + actions["edit"] + actions["reply"]
    )
    assert sum(g["unedited"] for g in groups) == actions["approve"]
    for g in groups:
        assert g["unedited_share"] == round(g["unedited"] / g["answered"], 4)
        assert g["median_minutes_to_decision"] is not None and g["median_minutes_to_decision"] > 0
        assert g["type"] in {"troll", "complaint", "advocate", "question", "other"}
        if g["unedited"] == g["answered"]:
            assert g["median_edit_chars"] == 0
    html = (out / "report.html").read_text()
    assert "草稿品質" in html and groups[0]["playbook"] in html  # the brand's language
