"""Export the converted encoder to ONNX, once, for the ONNX Runtime encoder (`nlp.onnx_encoder`).

The graph takes the looked-up word embeddings (`inputs_embeds`: the 250k-row table stays the
4-bit file beside the model and is read in numpy, so it never becomes resident as float32)
and the attention mask, and returns every layer's mean-pooled, L2-normalised vector
(`pooled`: batch x layers x dim), so the runtime needs no torch at all. `int8` also writes a
dynamically quantized copy (int8 weights, float activations).

The export runs in a child process (`python -m nlp.onnx_export DIR`) so the serving process
never imports torch; files are written under temporary names and renamed into place, so a
crash or a concurrent export never leaves a half file behind.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

FP32_FILE = "encoder.onnx"
INT8_FILE = "encoder.int8.onnx"
OPSET = 17


def onnx_file(model_dir: str | os.PathLike, quantize: str) -> Path:
    """Where the ONNX graph for a quantize mode lives inside the model directory."""
    return Path(model_dir) / (INT8_FILE if quantize == "int8" else FP32_FILE)


def _replace_atomically(tmp: Path, target: Path) -> None:
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    os.replace(tmp, target)


def export_fp32(model_dir: Path) -> Path:
    """Trace the BERT encoder (eager attention, float32) from embeddings to pooled layers."""
    import warnings

    import torch
    from transformers import AutoModel

    target = onnx_file(model_dir, "none")
    model = AutoModel.from_pretrained(
        str(model_dir), dtype=torch.float32, attn_implementation="eager", add_pooling_layer=False
    ).eval()

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = model

        def forward(self, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor):
            out = self.bert(
                inputs_embeds=inputs_embeds,
                attention_mask=attention_mask,
                output_hidden_states=True,
            )
            mask = attention_mask.unsqueeze(-1).to(inputs_embeds.dtype)
            denom = mask.sum(1).clamp(min=1.0)
            pooled = [
                torch.nn.functional.normalize((h * mask).sum(1) / denom, dim=-1)
                for h in out.hidden_states[1:]
            ]
            return torch.stack(pooled, dim=1)

    dim = int(model.config.hidden_size)
    example = (torch.randn(2, 8, dim), torch.ones(2, 8, dtype=torch.int64))
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=model_dir)
    os.close(fd)
    try:
        with warnings.catch_warnings(), torch.inference_mode():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                Pooled().eval(),
                example,
                tmp,
                input_names=["inputs_embeds", "attention_mask"],
                output_names=["pooled"],
                dynamic_axes={
                    "inputs_embeds": {0: "batch", 1: "tokens"},
                    "attention_mask": {0: "batch", 1: "tokens"},
                    "pooled": {0: "batch"},
                },
                opset_version=OPSET,
                dynamo=False,
            )
        _replace_atomically(Path(tmp), target)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return target


def export_int8(model_dir: Path) -> Path:
    """Dynamic int8 quantization of the float32 graph's matrix multiplications."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    source = onnx_file(model_dir, "none")
    if not source.is_file():
        export_fp32(model_dir)
    target = onnx_file(model_dir, "int8")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".onnx", dir=model_dir)
    os.close(fd)
    try:
        quantize_dynamic(
            str(source),
            tmp,
            weight_type=QuantType.QInt8,
            per_channel=True,  # one scale per output column: embeddings stay within ~1 %
            op_types_to_quantize=["MatMul"],
            extra_options={"MatMulConstBOnly": True},
        )
        _replace_atomically(Path(tmp), target)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return target


def ensure_onnx(model_dir: str | os.PathLike, quantize: str) -> Path:
    """The ONNX graph for this mode, exported (in a child process) on first use."""
    target = onnx_file(model_dir, quantize)
    if target.is_file():
        return target
    root = Path(__file__).resolve().parents[1]
    path = os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path}
    subprocess.run(  # noqa: S603 - this interpreter, our module, our own arguments
        [sys.executable, "-m", "nlp.onnx_export", str(model_dir), quantize],
        check=True,
        env=env,
    )
    if not target.is_file():
        raise RuntimeError(f"the ONNX export did not write {target}")
    return target


def main(argv: list[str]) -> int:
    model_dir, quantize = Path(argv[0]), (argv[1] if len(argv) > 1 else "none")
    if quantize == "int8":
        export_int8(model_dir)
    else:
        export_fp32(model_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
