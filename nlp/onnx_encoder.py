"""The bundled encoder on ONNX Runtime: the same embeddings as `nlp.encoder.Encoder`, faster,
in a fraction of the memory, and without importing torch in the serving process.

Word embeddings are looked up in numpy from the 4-bit table beside the model (memory-mapped:
only the rows of tokens actually seen become resident); the rest of the network runs as an
ONNX graph exported once from the converted model (`nlp.onnx_export`). "none" (and "auto") runs
float32, torch's vectors. `quantize="int8"` runs the per-token int8 graph (`nlp.onnx_quantize`):
twice as fast and a message's vector is the same alone or in any batch, but its vectors move the
FAQ matches (held-out precision 96 % instead of 100 % in bench/faq_benchmark.py), so it is
chosen, not the default.

Throughput on a few cores comes from running length-sorted batches side by side, each on a
one-thread session (small matrices do not split well across threads); a lone batch (one
message) runs on a session that uses all the threads, for latency. Idle threads sleep instead
of spinning: on a shared machine spinning only burns CPU that other processes need.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from nlp.encoding import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_MAX_TOKENS,
    MAX_BATCH_TOKENS,
    SentencePieceXLMR,
    batches,
    default_layers,
    encoder_name,
    input_ids,
    padded,
)


def q4_table_info(source: str | Path) -> dict | None:
    """The 4-bit word-embedding table's description from `replyline_model.json`, if any."""
    meta = Path(source) / "replyline_model.json"
    if not meta.is_file():
        return None
    return json.loads(meta.read_text()).get("word_embeddings_q4") or None


def supports(source: str | Path) -> bool:
    """True when `source` is a converted model directory this runtime can serve."""
    path = Path(source)
    return (
        path.is_dir()
        and q4_table_info(path) is not None
        and (path / "sentencepiece.bpe.model").is_file()
        and (path / "config.json").is_file()
    )


class Q4Table:
    """Rows of a Q4_0 table (per row: dim/32 blocks of an fp16 scale and 16 nibble bytes),
    dequantised on lookup: value = (q - 8) * scale."""

    def __init__(self, path: Path, rows: int, dim: int, block: int = 32) -> None:
        if block != 32 or dim % block:
            raise ValueError(f"{path.name}: unsupported Q4 layout (block {block}, dim {dim})")
        self.dim, self.blocks = dim, dim // block
        per_row = self.blocks * (2 + block // 2)
        raw = np.memmap(path, dtype=np.uint8, mode="r")
        if raw.size != rows * per_row:
            raise ValueError(f"{path.name}: unexpected size for a {rows}x{dim} Q4 table")
        self.table = raw.reshape(rows, per_row)

    def __call__(self, ids: np.ndarray) -> np.ndarray:
        rows = self.table[ids].reshape(*ids.shape, self.blocks, 18)
        scale = np.ascontiguousarray(rows[..., :2]).view(np.float16).astype(np.float32)
        qs = rows[..., 2:]
        q = np.concatenate([qs & 0x0F, qs >> 4], axis=-1).astype(np.float32)
        q -= 8.0
        q *= scale
        return q.reshape(*ids.shape, self.dim)


class OnnxEncoder:
    """`Encoder`'s public API (`embed`, `token_ids`, `default_layers`, ...) on ONNX Runtime."""

    runtime = "onnx"

    def __init__(
        self,
        source: str,
        name: str | None = None,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        quantize: str | None = None,
        threads: int | None = None,
    ) -> None:
        import os

        from nlp.onnx_export import ensure_onnx

        self.source = str(source)
        self.name = name or encoder_name(self.source)
        self.max_tokens = int(max_tokens)
        self.quantize = "int8" if (quantize or "none").lower() == "int8" else "none"
        config = json.loads((Path(self.source) / "config.json").read_text())
        self.dim = int(config["hidden_size"])
        self._num_layers = int(config["num_hidden_layers"])
        self.max_positions = int(config.get("max_position_embeddings", 512))
        self.pad_id = int(config.get("pad_token_id", 1))
        info = q4_table_info(self.source)
        if info is None:
            raise ValueError(f"{self.source}: no 4-bit word-embedding table for ONNX Runtime")
        self.lookup = Q4Table(
            Path(self.source) / info["file"],
            int(info["rows"]),
            int(info["dim"]),
            int(info["block"]),
        )
        self.tokenizer = SentencePieceXLMR(Path(self.source) / "sentencepiece.bpe.model")
        self.threads = max(1, int(threads or os.cpu_count() or 1))
        self.graph = ensure_onnx(self.source, self.quantize)
        self._main = self._session(self.threads)
        self._side: list[Any] = []
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def _session(self, threads: int) -> Any:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.enable_mem_pattern = False  # shapes vary per batch: planned patterns do not fit
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.log_severity_level = 3
        return ort.InferenceSession(str(self.graph), opts, providers=["CPUExecutionProvider"])

    # ------------------------------------------------------------------ public API

    @property
    def num_layers(self) -> int:
        return self._num_layers

    def default_layers(self) -> list[int]:
        """The same layers as `Encoder.default_layers` (the upper half, every other one)."""
        return default_layers(self.num_layers)

    def token_ids(self, texts: Sequence[str], prefix: str = "query: ") -> list[list[int]]:
        """Model input ids (with specials, truncated) for each text."""
        return input_ids(self.tokenizer, texts, prefix, self.max_tokens)

    def embed(
        self,
        texts: Sequence[str],
        prefix: str = "query: ",
        batch_size: int = DEFAULT_BATCH_SIZE,
        progress: Any = None,
        layers: Sequence[int] | None = None,
    ) -> np.ndarray:
        """L2-normalised float32 embeddings, as `Encoder.embed` returns them."""
        texts = list(texts)
        want = [int(x) for x in (layers or [self.num_layers])]
        for layer in want:
            if not 1 <= layer <= self.num_layers:
                raise ValueError(f"layer {layer} is outside 1..{self.num_layers}")
        out = np.zeros((len(texts), len(want) * self.dim), dtype=np.float32)
        if not texts:
            return out
        ids = self.token_ids(texts, prefix)
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        chunks = list(batches(order, [len(x) for x in ids], batch_size, MAX_BATCH_TOKENS))
        picks = [layer - 1 for layer in want]

        def run(session: Any, chunk: list[int]) -> None:
            inp, att = padded([ids[i] for i in chunk], self.pad_id)
            pooled = session.run(None, {"inputs_embeds": self.lookup(inp), "attention_mask": att})
            out[chunk] = pooled[0][:, picks, :].reshape(len(chunk), -1)
            if progress is not None:
                progress(len(chunk))

        if len(chunks) == 1 or self.threads == 1:
            with self._lock:
                for chunk in chunks:
                    run(self._main, chunk)
            return out
        pool, sessions = self._side_sessions()
        local = threading.local()
        free = list(sessions)
        free_lock = threading.Lock()

        def work(chunk: list[int]) -> None:
            if not hasattr(local, "session"):
                with free_lock:
                    local.session = free.pop()
            run(local.session, chunk)

        with self._lock:
            # each pool thread takes one session for the whole call
            for f in [pool.submit(work, c) for c in chunks]:
                f.result()
        return out

    def _side_sessions(self) -> tuple[ThreadPoolExecutor, list[Any]]:
        if self._pool is None:
            self._side = [self._session(1) for _ in range(self.threads)]
            self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="onnx-encoder")
        return self._pool, self._side
