"""Benchmark the classifier: load time, batched throughput, single-message latency, peak RSS,
and held-out macro-F1 per language.

    PYTHONPATH=. python bench/nlp_bench.py [--runtime auto|onnx|torch]
        [--quantize auto|none|int8|bf16] [--threads N] [--json]
    PYTHONPATH=. python bench/nlp_bench.py --runtime onnx:int8,onnx:none,torch:auto

Targets: >= 400 msg/s batched, p50 <= 15 ms for one message, RSS <= 700 MB, held-out
macro-F1 >= 0.85 per language; leave-one-source-out (real pools) macro-F1 >= 0.80 per language
as recorded by training in the heads' metadata. The machine may be shared: besides messages per
wall-second the bench prints messages per CPU-second of its own process (all its threads), which
other processes do not lower, and the load average before, during and after. The model is
converted first (in a child process, so the one-off conversion does not count towards load time
or this process's peak RSS).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def rss_mb() -> float:
    """Current resident set size in MB."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def ensure_converted() -> None:
    from nlp.convert import default_model_dir, is_converted

    if not is_converted(default_model_dir()):
        print("converting the model once (not timed)...", file=sys.stderr)
        subprocess.run(
            [sys.executable, "-c", "from nlp.convert import convert; convert()"],
            check=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
    from nlp.encoder import pick_runtime

    quantize = os.environ.get("REPLYLINE_QUANTIZE") or "auto"
    source = str(default_model_dir())
    if pick_runtime(os.environ.get("REPLYLINE_RUNTIME") or "auto", source, quantize) == "onnx":
        from nlp.onnx_export import ensure_onnx

        ensure_onnx(source, "none" if quantize == "none" else "int8")  # exported once, not timed


def short_messages(n: int) -> list[str]:
    """Real-looking short messages from the labelled pools (<= 60 characters)."""
    from nlp import dataset

    texts = [r["text"] for r in dataset.load_labelled(strict=False) if len(r["text"]) <= 60]
    out = []
    while len(out) < n:
        out.extend(texts)
    return out[:n]


def _threads(encoder) -> int:
    """Threads the encoder computes on (without importing torch for the ONNX runtime)."""
    if getattr(encoder, "runtime", "torch") == "onnx":
        return encoder.threads
    import torch

    return torch.get_num_threads()


COLUMNS = (
    ("runtime", "{runtime}:{quantize}"),
    ("msg/CPU-s", "{throughput_msgs_per_cpu_s:.0f}"),
    ("x2 cores", "{throughput_msgs_per_s_on_2_free_cores:.0f}"),
    ("msg/s wall", "{throughput_msgs_per_s:.0f}"),
    ("p50 ms", "{latency_p50_ms:.1f}"),
    ("p50 CPU ms", "{latency_p50_cpu_ms:.1f}"),
    ("RSS MB", "{rss_mb_loaded:.0f}"),
    ("peak MB", "{peak_rss_mb:.0f}"),
    ("F1 type", "{heldout_type_macro_f1:.4f}"),
    ("load avg", "{load_average_during[0]:.1f}"),
)


def compare(runtimes: list[str], argv: list[str]) -> int:
    """Each runtime[:quantize] measured in a child process, then one table."""
    rest, skip = [], False
    for arg in argv:  # the same options, without --runtime
        if skip or arg.startswith("--runtime"):
            skip = arg == "--runtime"
            continue
        rest.append(arg)
    rows = []
    for spec in runtimes:
        out = subprocess.run(  # noqa: S603 - this interpreter, this script, our arguments
            [sys.executable, __file__, "--runtime", spec, "--json", *rest],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        rows.append(json.loads(out[out.index("{") :]))
    cells = [[fmt.format(**row) for _, fmt in COLUMNS] for row in rows]
    widths = [max(len(title), *(len(c[i]) for c in cells)) for i, (title, _) in enumerate(COLUMNS)]
    print("  ".join(title.rjust(w) for (title, _), w in zip(COLUMNS, widths, strict=True)))
    for c in cells:
        print("  ".join(v.rjust(w) for v, w in zip(c, widths, strict=True)))
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quantize", default=None, choices=["auto", "none", "int8", "bf16"])
    ap.add_argument(
        "--runtime",
        default=None,
        help="auto, onnx or torch; several, comma-separated (onnx:int8,onnx:none,torch), are "
        "each measured in a process of their own and compared in a table",
    )
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--n", type=int, default=2048, help="messages for the throughput run")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--singles", type=int, default=300, help="single-message calls")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if args.runtime and "," in args.runtime:
        return compare(args.runtime.split(","), sys.argv[1:])
    if args.runtime and ":" in args.runtime:
        args.runtime, args.quantize = args.runtime.split(":", 1)
    if args.quantize:
        os.environ["REPLYLINE_QUANTIZE"] = args.quantize
    if args.runtime:
        os.environ["REPLYLINE_RUNTIME"] = args.runtime
    if args.threads:
        os.environ["REPLYLINE_TORCH_THREADS"] = str(args.threads)

    ensure_converted()
    load_before = os.getloadavg()
    base_rss = rss_mb()
    t0 = time.perf_counter()
    from nlp.classifier import load_classifier
    from nlp.encoder import native_bf16

    clf = load_classifier()
    clf.classify(["warm-up 暖機"])
    load_s = time.perf_counter() - t0
    loaded_rss = rss_mb()

    msgs = short_messages(args.n)
    load_during = os.getloadavg()
    c0, t0 = time.process_time(), time.perf_counter()
    clf.classify(msgs, batch_size=args.batch_size)
    batch_cpu_s, batch_s = time.process_time() - c0, time.perf_counter() - t0
    throughput = len(msgs) / batch_s
    # the machine is shared: messages per CPU-second of this process (all its threads) does
    # not drop when other processes take the cores; x2 is what two free cores would give
    per_cpu_s = len(msgs) / batch_cpu_s

    lat, lat_cpu = [], []
    for text in msgs[: args.singles]:
        c, t = time.process_time(), time.perf_counter()
        clf.classify([text])
        lat.append((time.perf_counter() - t) * 1000)
        lat_cpu.append((time.process_time() - c) * 1000)
    lat.sort()
    p50 = statistics.median(lat)
    p99 = lat[min(len(lat) - 1, int(round(0.99 * (len(lat) - 1))))]
    # CPU time of one call: on free cores the wall time is no longer than this
    p50_cpu = statistics.median(lat_cpu)

    from nlp import dataset
    from nlp.cli import evaluate_rows

    heldout = dataset.split(dataset.load_labelled(strict=False))["test"]
    report = evaluate_rows(clf, heldout)
    t = report["type"]
    loso = clf.heads.meta.get("leave_one_source_out") or {}
    result = {
        "cpus": os.cpu_count(),
        "load_average_before": [round(v, 2) for v in load_before],
        "load_average_during": [round(v, 2) for v in load_during],
        "load_average_after": [round(v, 2) for v in os.getloadavg()],
        "encoder": clf.encoder.name,
        "quantize": clf.encoder.quantize,
        "native_bf16": native_bf16(),
        "runtime": getattr(clf.encoder, "runtime", "torch"),
        "threads": _threads(clf.encoder),
        "load_seconds": round(load_s, 2),
        "throughput_msgs_per_s": round(throughput, 1),
        "throughput_msgs_per_cpu_s": round(per_cpu_s, 1),
        "throughput_msgs_per_s_on_2_free_cores": round(2 * per_cpu_s, 1),
        "batch_size": args.batch_size,
        "mean_chars": round(sum(map(len, msgs)) / len(msgs), 1),
        "latency_p50_ms": round(p50, 2),
        "latency_p99_ms": round(p99, 2),
        "latency_p50_cpu_ms": round(p50_cpu, 2),
        "rss_mb_before_load": round(base_rss, 1),
        "rss_mb_loaded": round(loaded_rss, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "heldout_n": t["n"],
        "heldout_type_macro_f1": round(t["macro_f1"], 4),
        "heldout_type_macro_f1_by_language": {
            k: round(v["macro_f1"], 4) for k, v in t["by_group"].items()
        },
        "heldout_low_confidence_rate": round(t["low_confidence_rate"], 4),
        "loso_type_macro_f1_by_language": {
            k: v["macro_f1"] for k, v in loso.get("by_language", {}).items()
        },
        "loso_type_f1_per_class": {
            k: v["per_class_f1"] for k, v in loso.get("by_language", {}).items()
        },
        "loso_accuracy_when_confident": loso.get("accuracy_when_confident"),
        "loso_low_confidence_rate": loso.get("low_confidence_rate"),
        "heldout_macro_f1_other_heads": {
            name: round(report[name]["macro_f1"], 4)
            for name in ("subtype", "sentiment", "suggestion")
            if name in report
        },
    }
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
        return 0
    print(
        f"machine            {result['cpus']} CPUs, load average "
        f"{result['load_average_before'][0]:.2f} before, "
        f"{result['load_average_during'][0]:.2f} during, "
        f"{result['load_average_after'][0]:.2f} after"
    )
    print(
        f"encoder            {result['encoder']} on {result['runtime']} (quantize="
        f"{result['quantize']}, native bf16={result['native_bf16']}, threads={result['threads']})"
    )
    print(f"load time          {result['load_seconds']:.2f} s (model already converted)")
    print(
        f"throughput         {result['throughput_msgs_per_s']:.0f} msg/s wall, "
        f"{result['throughput_msgs_per_cpu_s']:.0f} msg per CPU-second "
        f"(x2 = {result['throughput_msgs_per_s_on_2_free_cores']:.0f} msg/s on 2 free cores; "
        f"{len(msgs)} messages, batch {args.batch_size}, mean {result['mean_chars']} chars)"
    )
    print(
        f"latency, 1 message p50 {p50:.1f} ms   p99 {p99:.1f} ms   "
        f"(p50 CPU time {p50_cpu:.1f} ms: the wall time on free cores is at most this)"
    )
    print(f"RSS                {loaded_rss:.0f} MB loaded, peak {result['peak_rss_mb']:.0f} MB")
    by = "  ".join(f"{k} {v:.3f}" for k, v in result["heldout_type_macro_f1_by_language"].items())
    print(f"held-out type macro-F1 {result['heldout_type_macro_f1']:.3f} (n={t['n']})  {by}")
    other = "  ".join(f"{k} {v:.3f}" for k, v in result["heldout_macro_f1_other_heads"].items())
    print(f"held-out other heads macro-F1  {other}")
    print(f"held-out low-confidence rate {result['heldout_low_confidence_rate']:.3f}")
    if loso:
        from nlp.loso import format_report

        print("from the heads' metadata (training):")
        print(format_report(loso))
    else:
        print("no leave-one-source-out figures in the heads' metadata (no real pools in training)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
