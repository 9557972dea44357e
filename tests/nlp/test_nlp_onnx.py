"""The ONNX Runtime encoder (REPLYLINE_RUNTIME=onnx): same vectors as torch in float32."""

from __future__ import annotations

import numpy as np
import pytest

from nlp.encoder import pick_runtime

TEXTS = ["請問運費怎麼算？", "Do you ship to Canada?", "这个产品太差了，我要退货", "好"]


def test_runtime_choice(model_dir, tmp_path):
    assert pick_runtime("auto", str(model_dir), "auto") == "torch"
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


def test_float32_onnx_gives_the_torch_vectors(encoder, model_dir):
    from nlp.onnx_encoder import OnnxEncoder

    onnx = OnnxEncoder(str(model_dir), quantize="none", threads=2)
    layers = encoder.default_layers()
    ours = onnx.embed(TEXTS * 20, layers=layers, batch_size=8)  # several batches side by side
    ref = encoder.embed(TEXTS * 20, layers=layers, batch_size=8)
    # (torch may compute batches in bfloat16 on CPUs that have it: within 1e-3)
    np.testing.assert_allclose(ours, ref, atol=1e-3)
    single = onnx.embed(TEXTS[:1], layers=layers)
    np.testing.assert_allclose(single[0], ours[0], atol=2e-4)  # float32: batch-independent
    assert onnx.embed([]).shape == (0, onnx.dim)
