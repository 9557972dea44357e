"""`replyline classify | eval | train`: the NLP package's command-line entry points.

`register(subparsers)` adds the three subcommands to the foundation's argparse parser; each
sets `func`, which takes the parsed args and returns the process exit code. `python -m nlp.cli`
runs them stand-alone. Nothing heavy is imported until a command actually runs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Iterator
from typing import IO, Any

from nlp.settings import NlpSettings, bot_database_url

PROGRESS_MIN_LINES = 200
CHUNK = 512


def _open_in(path: str) -> contextlib.AbstractContextManager[IO[str]]:
    if path == "-":
        return contextlib.nullcontext(sys.stdin)
    return open(path, encoding="utf-8")  # noqa: SIM115 - returned as a context manager


def _open_out(path: str) -> contextlib.AbstractContextManager[IO[str]]:
    if path == "-":
        return contextlib.nullcontext(sys.stdout)
    return open(path, "w", encoding="utf-8")  # noqa: SIM115


def _count_lines(path: str) -> int | None:
    if path == "-":
        return None
    with open(path, "rb") as f:
        return sum(1 for _ in f)


def read_items(stream: IO[str], errors: list[str]) -> Iterator[tuple[int, dict]]:
    """(line number, object) for every line that is a JSON object with a string `text`;
    a message for every other non-blank line goes to `errors`."""
    for n, line in enumerate(stream, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            errors.append(f"line {n}: not valid JSON ({exc.msg})")
            continue
        if not isinstance(obj, dict):
            errors.append(f"line {n}: not a JSON object")
            continue
        if not isinstance(obj.get("text"), str):
            errors.append(f"line {n}: no 'text' string")
            continue
        yield n, obj


def _progress(total: int | None, enabled: bool, desc: str) -> Any:
    from tqdm import tqdm

    # a file's size is known: large ones get a bar; a stream gets one only on a terminal
    show = enabled and (sys.stderr.isatty() if total is None else total >= PROGRESS_MIN_LINES)
    return tqdm(
        total=total, desc=desc, unit="msg", file=sys.stderr, disable=not show, mininterval=0.5
    )


def _classifier(args: argparse.Namespace):
    from nlp.classifier import load_classifier

    return load_classifier(model_dir=args.model_dir, encoder=args.encoder)


def _report_errors(errors: list[str]) -> None:
    for msg in errors:
        print(f"skipped {msg}", file=sys.stderr)
    if errors:
        print(f"{len(errors)} line(s) skipped", file=sys.stderr)


def cmd_classify(args: argparse.Namespace) -> int:
    """Classify a JSONL file of {id, text} (and optionally `context`, the previous turns)
    into a JSONL file of classifications."""
    from nlp.context import takes_contexts

    clf = _classifier(args)
    errors: list[str] = []
    total = _count_lines(args.input)
    with _open_in(args.input) as src, _open_out(args.output) as dst:
        bar = _progress(total, not args.no_progress, "classifying")
        pending: list[tuple[int, dict]] = []

        def flush() -> None:
            texts = [obj["text"] for _, obj in pending]
            contexts = [obj.get("context") for _, obj in pending]
            if any(isinstance(c, list) and c for c in contexts) and takes_contexts(clf):
                lists = [c if isinstance(c, list) else [] for c in contexts]
                results = clf.classify(texts, contexts=[[str(t) for t in c] for c in lists])
            else:
                results = clf.classify(texts)
            for (_, obj), res in zip(pending, results, strict=True):
                out = {
                    "id": obj.get("id"),
                    "type": res.type,
                    "scores": res.scores,
                    "subtype": res.subtype,
                    "sentiment": res.sentiment,
                    "language": res.language,
                    "suggestion": res.suggestion,
                    "confidence": res.confidence,
                    "low_confidence": res.low_confidence,
                }
                dst.write(json.dumps(out, ensure_ascii=False) + "\n")
            bar.update(len(pending))
            pending.clear()

        for item in read_items(src, errors):
            pending.append(item)
            if len(pending) >= CHUNK:
                flush()
        if pending:
            flush()
        dst.flush()
        bar.close()
    _report_errors(errors)
    return 1 if errors else 0


def _label_report(gold, pred, labels, groups) -> dict:
    from nlp import metrics

    return metrics.report(gold, pred, labels, groups)


def evaluate_rows(clf, rows: list[dict]) -> dict:
    """Metrics of a classifier against labelled rows (type always; other heads if labelled)."""
    from nlp.context import takes_contexts
    from nlp.dataset import SENTIMENTS
    from nlp.types import COMMENTER_TYPES, COMPLAINT_SUBTYPES

    texts = [r["text"] for r in rows]
    if any(r.get("context") for r in rows) and takes_contexts(clf):
        results = clf.classify(texts, contexts=[r.get("context") or [] for r in rows])
    else:
        results = clf.classify(texts)
    langs = [r.get("language") or res.language for r, res in zip(rows, results, strict=True)]
    out: dict[str, Any] = {}
    typed = [i for i, r in enumerate(rows) if r.get("type") in COMMENTER_TYPES]
    if typed:
        out["type"] = _label_report(
            [rows[i]["type"] for i in typed],
            [results[i].type for i in typed],
            COMMENTER_TYPES,
            [langs[i] for i in typed],
        )
        low = [results[i].low_confidence for i in typed]
        out["type"]["low_confidence_rate"] = sum(low) / len(low)
    sub = [
        i
        for i, r in enumerate(rows)
        if r.get("type") == "complaint" and r.get("subtype") in COMPLAINT_SUBTYPES
    ]
    if sub:
        # judged on the gold complaints, using the subtype scores whatever the type decision
        pred = [
            max(results[i].extra["subtype_scores"].items(), key=lambda kv: kv[1])[0]
            if "subtype_scores" in results[i].extra
            else (results[i].subtype or "unhappy")
            for i in sub
        ]
        out["subtype"] = _label_report(
            [rows[i]["subtype"] for i in sub], pred, COMPLAINT_SUBTYPES, [langs[i] for i in sub]
        )
    sen = [i for i, r in enumerate(rows) if r.get("sentiment") in SENTIMENTS]
    if sen:
        pred = [results[i].extra.get("sentiment_label", "neutral") for i in sen]
        out["sentiment"] = _label_report(
            [rows[i]["sentiment"] for i in sen], pred, SENTIMENTS, [langs[i] for i in sen]
        )
    sug = [i for i, r in enumerate(rows) if isinstance(r.get("suggestion"), bool)]
    if sug:
        out["suggestion"] = _label_report(
            ["yes" if rows[i]["suggestion"] else "no" for i in sug],
            ["yes" if results[i].suggestion else "no" for i in sug],
            ("no", "yes"),
            [langs[i] for i in sug],
        )
    lang = [i for i, r in enumerate(rows) if r.get("language")]
    if lang:
        from nlp.types import LANGUAGES

        out["language"] = _label_report(
            [rows[i]["language"] for i in lang],
            [results[i].language for i in lang],
            LANGUAGES,
            None,
        )
    return out


def format_eval(report: dict) -> str:
    from nlp import metrics

    lines = []
    for name, rep in report.items():
        lines.append(f"== {name} (n={rep['n']})")
        lines.append(metrics.format_per_class(rep["per_class"]))
        lines.append(f"macro-F1 {rep['macro_f1']:.3f}   accuracy {rep['accuracy']:.3f}")
        for grp, g in rep.get("by_group", {}).items():
            lines.append(
                f"  {grp:<8} macro-F1 {g['macro_f1']:.3f}  accuracy {g['accuracy']:.3f}  "
                f"(n={g['n']})"
            )
        if "low_confidence_rate" in rep:
            lines.append(f"low-confidence rate {rep['low_confidence_rate']:.3f}")
        lines.append("confusion matrix:")
        lines.append(metrics.format_confusion(rep["confusion"], rep["labels"]))
        lines.append("")
    return "\n".join(lines)


def cmd_eval(args: argparse.Namespace) -> int:
    """Score the classifier against a labelled JSONL file, or (no --input) against the
    pools' held-out split; with --loso also validate leave-one-source-out."""
    from nlp import dataset, loso

    errors: list[str] = []
    if args.input:
        with _open_in(args.input) as src:
            rows = [obj for _, obj in read_items(src, errors)]
        _report_errors(errors)
    else:
        rows = dataset.split(dataset.load_labelled(args.data or None, strict=False))["test"]
        print(f"held-out split of the pools ({len(rows)} rows, never trained on)", file=sys.stderr)
    if not rows:
        print("no labelled rows to evaluate", file=sys.stderr)
        return 1
    clf = _classifier(args)
    report: dict[str, Any] = evaluate_rows(clf, rows)
    by_source = None
    if args.loso:
        from nlp.train import validate_by_source

        by_source = validate_by_source(
            paths=args.data or None, encoder=getattr(clf, "encoder", None), progress=False
        )
        if by_source is None:
            print("no real pools (real_*.jsonl) found: set REPLYLINE_DATA_DIRS", file=sys.stderr)
    recorded = getattr(clf, "heads", None) and clf.heads.meta.get("leave_one_source_out")
    if args.json:
        report["leave_one_source_out"] = by_source
        report["leave_one_source_out_recorded_in_heads"] = recorded or None
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        print(format_eval(report))
        if by_source:
            print(loso.format_report(by_source))
        if recorded:
            print("\nrecorded in the heads' metadata when they were trained:")
            print(loso.format_report(recorded))
    return 1 if errors else 0


def cmd_train(args: argparse.Namespace) -> int:
    """Retrain the heads (optionally with review-queue corrections); print held-out metrics."""
    from nlp.encoder import get_encoder
    from nlp.train import format_heldout, train

    feedback = None
    if args.with_feedback:
        url = args.database_url or bot_database_url() or os.environ.get("DATABASE_URL")
        if not url:
            print("--with-feedback needs --database-url or REPLYLINE_DATABASE_URL", file=sys.stderr)
            return 2
        from nlp.feedback import load_feedback

        feedback = load_feedback(url)
        print(f"feedback corrections folded in: {len(feedback)}", file=sys.stderr)
    encoder = get_encoder(
        NlpSettings.from_env().updated(encoder=args.encoder, model_dir=args.model_dir)
    )
    hp: dict[str, Any] = {}
    if args.seed is not None:
        hp["seed"] = args.seed
    if args.epochs is not None:
        hp["epochs"] = args.epochs
    heads, heldout = train(
        paths=args.data or None,
        feedback=feedback,
        encoder=encoder,
        output=args.output,
        hp=hp,
        progress=not args.no_progress,
    )
    print("held-out metrics (never seen in training):")
    print(format_heldout(heldout) if heldout else "(no held-out rows)")
    cv = heads.meta.get("cv_out_of_fold", {})
    if cv:
        print("\ncross-validated on the training pool (out-of-fold):")
        for name, rep in cv.items():
            by = ", ".join(f"{k} {v:.3f}" for k, v in rep["by_language"].items())
            print(f"{name:<11} macro-F1 {rep['macro_f1']:.3f}  by language: {by}")
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--encoder", default=None, help="encoder dir or hub name (REPLYLINE_ENCODER)")
    p.add_argument("--model-dir", default=None, help="converted model dir (REPLYLINE_MODEL_DIR)")


def register(subparsers: Any) -> None:
    """Add `classify`, `eval` and `train` to an argparse subparsers object."""
    p = subparsers.add_parser("classify", help="classify messages in a JSONL file")
    p.add_argument("--input", required=True, help="JSONL with id and text per line ('-' stdin)")
    p.add_argument("--output", default="-", help="JSONL output ('-' stdout, the default)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    _common(p)
    p.set_defaults(func=cmd_classify)

    p = subparsers.add_parser("eval", help="score the classifier on labelled messages")
    p.add_argument(
        "--input", default=None, help="labelled JSONL ('-' stdin; default: held-out split)"
    )
    p.add_argument(
        "--loso", action="store_true", help="also validate leave-one-source-out (real pools)"
    )
    p.add_argument("--data", nargs="*", default=None, help="labelled pools (default: all)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    _common(p)
    p.set_defaults(func=cmd_eval)

    p = subparsers.add_parser("train", help="retrain the classifier heads")
    p.add_argument("--with-feedback", action="store_true", help="fold in review corrections")
    p.add_argument("--database-url", default=None, help="database with the feedback table")
    p.add_argument("--data", nargs="*", default=None, help="labelled JSONL files (default: all)")
    p.add_argument("--output", default=None, help="heads file or dir (default: heads dir)")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--epochs", type=int, default=None, help="epochs per head (default 30)")
    p.add_argument("--no-progress", action="store_true")
    _common(p)
    p.set_defaults(func=cmd_train)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="replyline")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
