"""`replyline simulate` runs the sample comment stream through the real pipeline."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "examples" / "busy_monday.jsonl"


def simulate(db_url: str, path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "REPLYLINE_DATABASE_URL": db_url}
    return subprocess.run(
        [sys.executable, "-m", "bot", "simulate", str(path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_the_sample_stream_is_classified_and_drafted_once(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'sim.db'}"
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    first = simulate(db_url, SAMPLE)
    assert first.returncode == 0, first.stderr[-3000:]
    summary = json.loads(first.stdout)
    assert summary["messages"] == summary["stored"] == len(lines)
    assert sum(summary["by_type"].values()) == len(lines)
    assert set(summary["by_type"]) <= {"troll", "complaint", "advocate", "question", "other"}
    assert len(summary["by_type"]) >= 4, summary["by_type"]
    assert {"zh-Hant", "en"} <= set(summary["by_language"])
    assert summary["drafts_by_status"].get("pending", 0) >= len(lines) - summary["by_type"].get(
        "troll", 0
    )

    again = json.loads(simulate(db_url, SAMPLE).stdout)
    assert again["stored"] == 0 and again["duplicates"] == len(lines)
    assert again["drafts_by_status"] == summary["drafts_by_status"]


def test_bad_lines_are_reported_with_their_number_and_the_rest_is_processed(tmp_path):
    path = tmp_path / "mixed.jsonl"
    path.write_text(
        '{"channel": "web", "user": "a", "text": "hello there"}\n'
        "not json\n"
        '{"channel": "web", "user": "b"}\n'
        '{"channel": "web", "user": "c", "text": "hi", "ts": "2026-11-23T09:00:00"}\n',
        encoding="utf-8",
    )
    result = simulate(f"sqlite:///{tmp_path / 'sim.db'}", path)
    assert result.returncode == 1
    # the command speaks the brand's language (REPLYLINE_LANGUAGE, Chinese by default)
    assert ":2：已略過" in result.stderr and ":3：已略過" in result.stderr
    assert ":4：已略過" in result.stderr and "timezone" in result.stderr
    assert json.loads(result.stdout)["stored"] == 1
