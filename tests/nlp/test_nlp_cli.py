"""`classify`, `eval` and `train` as a user runs them."""

from __future__ import annotations

import argparse
import io
import json
import sqlite3

import pytest

from nlp import cli
from nlp.heads import HeadSet
from nlp.types import COMMENTER_TYPES

LINES = [
    json.dumps({"id": "a1", "text": "請問你們星期天幾點開門？"}, ensure_ascii=False),
    "{not json",
    json.dumps({"id": "a2", "text": "your whole team is a bunch of brainless clowns lol"}),
    json.dumps({"id": "a3", "message": "no text field"}),
    "",
    json.dumps({"id": 4, "text": ""}),
    json.dumps(["a", "list"]),
    json.dumps(
        {"id": "a5", "text": "两周前下的单到现在还没发货，客服也不回，请尽快处理"},
        ensure_ascii=False,
    ),
]


@pytest.fixture(autouse=True)
def _warm(classifier):
    """Make sure the shared classifier is loaded before the CLI asks for it."""
    return classifier


def test_register_adds_the_subcommands():
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers(dest="command"))
    for argv in (["classify", "--input", "-"], ["eval", "--input", "x"], ["train"]):
        args = parser.parse_args(argv)
        assert callable(args.func)
    args = parser.parse_args(["train", "--with-feedback"])
    assert args.with_feedback is True


def test_classify_reports_bad_lines_and_exits_nonzero(tmp_path, capsys):
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    dst = tmp_path / "out.jsonl"
    code = cli.main(["classify", "--input", str(src), "--output", str(dst)])
    err = capsys.readouterr().err
    assert code != 0
    assert "line 2" in err and "line 4" in err and "line 7" in err
    assert "line 1:" not in err and "line 6" not in err  # empty text is valid input
    assert "3 line(s) skipped" in err
    out = [json.loads(line) for line in dst.read_text(encoding="utf-8").splitlines()]
    assert [o["id"] for o in out] == ["a1", "a2", 4, "a5"]
    for o in out:
        assert set(o) >= {
            "id",
            "type",
            "scores",
            "subtype",
            "sentiment",
            "language",
            "suggestion",
            "confidence",
        }
        assert sum(o["scores"].values()) == pytest.approx(1.0, abs=1e-4)
        assert set(o["scores"]) == set(COMMENTER_TYPES)
    assert [o["type"] for o in out] == ["question", "troll", "other", "complaint"]
    assert [o["language"] for o in out] == ["zh-Hant", "en", "other", "zh-Hans"]


def test_classify_stdin_to_stdout(monkeypatch, capsys):
    good = [LINES[0], LINES[2]]
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(good) + "\n"))
    code = cli.main(["classify", "--input", "-", "--output", "-"])
    captured = capsys.readouterr()
    assert code == 0
    assert captured.err.strip() == ""  # small input: no progress bar, no errors
    out = [json.loads(line) for line in captured.out.splitlines()]
    assert [o["id"] for o in out] == ["a1", "a2"]


def test_classify_shows_progress_for_large_files(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(cli, "PROGRESS_MIN_LINES", 3)
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(json.dumps({"id": i, "text": f"hello {i}"}) for i in range(4)) + "\n")
    code = cli.main(["classify", "--input", str(src), "--output", str(tmp_path / "o.jsonl")])
    assert code == 0
    assert "classifying" in capsys.readouterr().err


def test_eval_prints_metrics_per_language_and_confusion(tmp_path, capsys):
    rows = [
        {"text": "請問你們星期天幾點開門？", "type": "question", "language": "zh-Hant"},
        {"text": "请问寄到广州运费多少？", "type": "question", "language": "zh-Hans"},
        {
            "text": "Thanks to your support team, great service.",
            "type": "advocate",
            "language": "en",
            "sentiment": "positive",
            "suggestion": False,
        },
        {"text": "shut up and go bankrupt already, losers", "type": "troll", "language": "en"},
        {
            "text": "There was a hair in my bread. I want my money back.",
            "type": "complaint",
            "subtype": "angry",
            "language": "en",
        },
    ]
    src = tmp_path / "labelled.jsonl"
    src.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n")
    assert cli.main(["eval", "--input", str(src)]) == 0
    out = capsys.readouterr().out
    for needle in (
        "== type",
        "precision",
        "recall",
        "f1",
        "macro-F1",
        "confusion matrix",
        "zh-Hant",
        "zh-Hans",
        "en ",
        "gold \\ pred",
        "== subtype",
        "== sentiment",
    ):
        assert needle in out, needle
    assert cli.main(["eval", "--input", str(src), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["type"]["n"] == 5
    assert set(report["type"]["by_group"]) == {"zh-Hant", "zh-Hans", "en"}
    assert (
        report["type"]["confusion"][COMMENTER_TYPES.index("question")][
            COMMENTER_TYPES.index("question")
        ]
        == 2
    )
    assert report["type"]["macro_f1"] > 0.7


@pytest.fixture(scope="module")
def emb_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("embedding-cache")


def _tiny_dataset(path):
    from nlp.dataset import DATA_DIR

    path.write_bytes((DATA_DIR / "seed.jsonl").read_bytes())
    return path


def test_train_on_a_tiny_set_writes_heads_that_load(tmp_path, encoder, monkeypatch, emb_cache):
    from nlp.classifier import ModelClassifier
    from nlp.train import train

    monkeypatch.setenv("REPLYLINE_CACHE_DIR", str(emb_cache))
    data = _tiny_dataset(tmp_path / "tiny.jsonl")
    heads, heldout = train(
        paths=[data],
        encoder=encoder,
        output=tmp_path / "heads",
        progress=False,
        hp={"epochs": 10, "folds": 2},
    )
    path = tmp_path / "heads" / f"{encoder.name}.npz"
    assert path.is_file() and path.with_suffix(".json").is_file()
    loaded = HeadSet.load(path)
    assert set(loaded.heads) == {"type", "subtype", "sentiment", "suggestion"}
    assert loaded.meta["layers"] == encoder.default_layers()
    assert "type" in heldout and heldout["type"]["n"] > 0
    clf = ModelClassifier(encoder, loaded)
    res = clf.classify(["What time do you open on Sunday?", ""])
    assert res[0].type in COMMENTER_TYPES and res[1].type == "other"
    # the embedding cache was filled
    assert any(emb_cache.iterdir())


def test_train_cli_with_feedback(tmp_path, monkeypatch, capsys, emb_cache):
    monkeypatch.setenv("REPLYLINE_CACHE_DIR", str(emb_cache))
    db = tmp_path / "replyline.db"
    con = sqlite3.connect(db)
    con.execute(
        "CREATE TABLE feedback (id INTEGER PRIMARY KEY, message_id INTEGER, text TEXT, "
        "field VARCHAR(32), value TEXT, created_at TIMESTAMP, user_id INTEGER)"
    )
    con.executemany(
        "INSERT INTO feedback (message_id, text, field, value, created_at, user_id) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [
            (1, "小編回覆超快，給你們一個讚", "type", "advocate", "2024-01-01 10:00:00", 1),
            (2, "這樣也能叫客服？", "type", "complaint", "2024-01-01 10:00:00", 1),
            (2, "這樣也能叫客服？", "subtype", "unhappy", "2024-01-01 10:01:00", 1),
            (3, "某段文字", "stage", "relationship", "2024-01-01 10:00:00", 1),
        ],
    )
    con.commit()
    con.close()
    data = _tiny_dataset(tmp_path / "tiny.jsonl")
    code = cli.main(
        [
            "train",
            "--with-feedback",
            "--database-url",
            f"sqlite:///{db}",
            "--data",
            str(data),
            "--output",
            str(tmp_path / "heads"),
            "--no-progress",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0
    assert "feedback corrections folded in: 3" in captured.err
    assert "held-out metrics" in captured.out and "macro-F1" in captured.out
    meta = json.loads((tmp_path / "heads" / "e5-small.json").read_text())
    assert meta["feedback_rows"] == 3


def test_train_with_feedback_needs_a_database(monkeypatch, capsys):
    monkeypatch.delenv("REPLYLINE_DATABASE_URL", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert cli.main(["train", "--with-feedback"]) == 2
    assert "database" in capsys.readouterr().err


def test_eval_reports_leave_one_source_out_per_language_class_and_source(
    tmp_path, monkeypatch, capsys, emb_cache
):
    monkeypatch.setenv("REPLYLINE_CACHE_DIR", str(emb_cache))
    seed = _tiny_dataset(tmp_path / "seed.jsonl")
    pools = {
        "real_en_small.jsonl": [
            ("you are all idiots lol", "troll"),
            ("what a bunch of clowns, delete your account", "troll"),
            ("had the best nap today, feeling great", "other"),
            ("watching the game with my brother tonight", "other"),
        ],
        "real_zh_small.jsonl": [
            ("請問你們幾點開門？", "question"),
            ("退貨要怎麼申請？", "question"),
            ("今天下班去看電影，好開心", "other"),
            ("週末跟朋友去爬山了", "other"),
        ],
    }
    paths = [str(seed)]
    for name, rows in pools.items():
        path = tmp_path / name
        path.write_text(
            "".join(json.dumps({"text": t, "type": y}, ensure_ascii=False) + "\n" for t, y in rows)
        )
        paths.append(str(path))
    assert cli.main(["eval", "--loso", "--json", "--data", *paths]) == 0
    report = json.loads(capsys.readouterr().out)
    loso = report["leave_one_source_out"]
    assert set(loso["by_source"]) == set(pools)  # seed.jsonl is never a test source
    assert set(loso["by_language"]) == {"en", "zh"}
    assert set(loso["by_language"]["zh"]["per_class_f1"]) == {"question", "other"}
    assert loso["n"] == 8
    assert cli.main(["eval", "--loso", "--data", *paths]) == 0
    out = capsys.readouterr().out
    assert "leave-one-source-out" in out and "real_zh_small.jsonl" in out
