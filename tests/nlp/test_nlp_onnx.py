"""The ONNX Runtime encoder (the default runtime for the bundled encoder): float32 gives torch's
vectors, per-token int8 gives each message the same vector alone or in any batch."""

from __future__ import annotations

import numpy as np
import pytest

from nlp.encoder import pick_runtime

TEXTS = ["請問運費怎麼算？", "Do you ship to Canada?", "这个产品太差了，我要退货", "好"]
MIXED = [
    "好",
    "請問運費怎麼算？",
    "Do you ship to Canada, and how long does it usually take to get there?",
    "这个产品太差了，我要退货，客服也不理人，真的很失望！！！",
    "lol",
    "你們的門市週日有開嗎？我想去看看新出的那款保溫瓶，順便問一下有沒有會員折扣",
]


@pytest.fixture(scope="module")
def onnx_int8(model_dir):
    from nlp.onnx_encoder import OnnxEncoder

    return OnnxEncoder(str(model_dir), quantize="int8", threads=2)


def test_runtime_choice(model_dir, tmp_path):
    assert pick_runtime("auto", str(model_dir), "auto") == "onnx"
    assert pick_runtime("auto", str(model_dir), "bf16") == "torch"  # a torch-only mode
    assert pick_runtime("auto", str(tmp_path), "auto") == "torch"  # not the bundled model
    assert pick_runtime("torch", str(model_dir), "none") == "torch"
    assert pick_runtime("onnx", str(model_dir), "int8") == "onnx"
    with pytest.raises(ValueError, match="bf16"):
        pick_runtime("onnx", str(model_dir), "bf16")
    with pytest.raises(ValueError, match="needs onnxruntime"):
        pick_runtime("onnx", str(tmp_path), "none")
    with pytest.raises(ValueError, match="unknown runtime"):
        pick_runtime("tensorflow", str(model_dir), "none")


def test_q4_lookup_matches_the_saved_table(model_dir):
    from safetensors.numpy import load_file

    from nlp.onnx_encoder import Q4Table, q4_table_info

    info = q4_table_info(model_dir)
    table = Q4Table(model_dir / info["file"], info["rows"], info["dim"], info["block"])
    ids = np.array([[0, 2, 3, 6], [1000, 123456, 250001, 250036]])
    stored = load_file(str(model_dir / "model.safetensors"))["embeddings.word_embeddings.weight"]
    np.testing.assert_allclose(table(ids), stored[ids].astype(np.float32), rtol=2e-3, atol=1e-4)


def test_float32_onnx_gives_the_torch_vectors(torch_encoder, model_dir):
    from nlp.onnx_encoder import OnnxEncoder

    onnx = OnnxEncoder(str(model_dir), quantize="none", threads=2)
    layers = torch_encoder.default_layers()
    ours = onnx.embed(TEXTS * 20, layers=layers, batch_size=8)  # several batches side by side
    ref = torch_encoder.embed(TEXTS * 20, layers=layers, batch_size=8)
    # (torch may compute batches in bfloat16 on CPUs that have it: within 1e-3)
    np.testing.assert_allclose(ours, ref, atol=1e-3)
    single = onnx.embed(TEXTS[:1], layers=layers)
    np.testing.assert_allclose(single[0], ours[0], atol=2e-4)  # float32: batch-independent
    assert onnx.embed([]).shape == (0, onnx.dim)


def test_a_message_gets_the_same_int8_vector_alone_or_in_any_batch(onnx_int8):
    layers = onnx_int8.default_layers()
    alone = np.stack([onnx_int8.embed([t], layers=layers)[0] for t in MIXED])
    together = onnx_int8.embed(MIXED, layers=layers)
    # in a crowd of other lengths, in batches of 3 run side by side, and padded to a longer one
    crowd = onnx_int8.embed(MIXED * 5 + TEXTS * 10, layers=layers, batch_size=3)[: len(MIXED)]
    padded = onnx_int8.embed(MIXED, layers=layers, batch_size=64)
    for other in (together, crowd, padded):
        np.testing.assert_allclose(other, alone, atol=1e-5, rtol=0)


def test_int8_stays_close_to_float32(onnx_int8, torch_encoder):
    layers = torch_encoder.default_layers()
    ours = onnx_int8.embed(MIXED, layers=layers).reshape(len(MIXED), len(layers), -1)
    ref = torch_encoder.embed(MIXED, layers=layers).reshape(len(MIXED), len(layers), -1)
    cosine = (ours * ref).sum(-1)  # every layer's vector is unit length
    assert cosine.min() > 0.99, cosine.round(4)


def test_per_token_int8_rewrites_matmuls_and_keeps_rows_apart():
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    from nlp.onnx_quantize import per_token_int8

    rng = np.random.default_rng(0)
    w = rng.normal(size=(16, 8)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["b", "t", 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["b", "t", 8])],
        [numpy_helper.from_array(w, "w")],
    )
    model = per_token_int8(
        helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    )
    ops = [n.op_type for n in model.graph.node]
    assert "MatMul" not in ops and "MatMulIntegerToFloat" in ops
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    x = rng.normal(size=(2, 3, 16)).astype(np.float32)
    x[1, 2] *= 100  # one loud token: with a per-batch scale it would crush the others
    y = session.run(None, {"x": x})[0]
    exact = x @ w
    # every token row within 3 % of its own largest value: no row is crushed by the loud one
    error = np.abs(y - exact).max(-1) / np.abs(exact).max(-1)
    assert error.max() < 0.03, error
    for b in range(2):
        for t in range(3):
            one = session.run(None, {"x": x[b : b + 1, t : t + 1]})[0]
            np.testing.assert_array_equal(one[0, 0], y[b, t])
    onnx.checker.check_model(model)


def test_exported_graphs_are_keyed_and_stale_ones_removed(model_dir, tmp_path):
    from nlp import onnx_export

    for name in ("config.json", "replyline_model.json"):
        (tmp_path / name).write_bytes((model_dir / name).read_bytes())
    int8 = onnx_export.onnx_file(tmp_path, "int8")
    fp32 = onnx_export.onnx_file(tmp_path, "none")
    assert int8.parent == tmp_path and int8.name.startswith("encoder-int8-")
    key = onnx_export.export_key(tmp_path)
    assert key in int8.name and key in fp32.name
    stale = ["encoder.onnx", "encoder.int8.onnx", "encoder-int8-000000000000.onnx"]
    for name in [*stale, int8.name, fp32.name]:
        (tmp_path / name).write_bytes(b"x")
    onnx_export._remove_stale(tmp_path)
    assert sorted(p.name for p in tmp_path.glob("*.onnx")) == sorted([int8.name, fp32.name])
    # a different model (or recipe, or library version) is a different key
    (tmp_path / "config.json").write_text('{"hidden_size": 1}')
    assert onnx_export.export_key(tmp_path) != key
