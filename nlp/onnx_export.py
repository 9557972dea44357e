"""Export the converted encoder to ONNX, once, for the ONNX Runtime encoder (`nlp.onnx_encoder`).

The graph takes the looked-up word embeddings (`inputs_embeds`: the 250k-row table stays the
4-bit file beside the model and is read in numpy, so it never becomes resident as float32)
and the attention mask, and returns every layer's mean-pooled, L2-normalised vector
(`pooled`: batch x layers x dim), so the runtime needs no torch at all. `int8` is that graph
with per-token int8 matrix multiplications (`nlp.onnx_quantize`).

Where the graphs are cached: inside the converted model directory (REPLYLINE_MODEL_DIR, by
default ~/.cache/replyline/models/e5-small), named with a key of everything that shapes them:
this export recipe's version, the model's own description and configuration, and the torch and
onnx versions that write them (`encoder-int8-<key>.onnx`). A change to any of these gives a new
name, so a stale graph is never served; the export deletes the graphs of other keys. Nothing is
downloaded: the export reads the packaged weights.

The export runs in a child process (`python -m nlp.onnx_export DIR MODE`) so the serving process
never imports torch; files are written under temporary names and renamed into place, so a
crash or a concurrent export never leaves a half file behind.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

OPSET = 17
RECIPE = 2  # bump when the graph or its quantization changes: the cached files are re-made
MODES = ("none", "int8")


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "-"


def export_key(model_dir: str | os.PathLike) -> str:
    """What the exported graphs depend on, hashed: recipe, model description and config, and the
    versions of the libraries that write them."""
    digest = hashlib.sha256(f"recipe {RECIPE} opset {OPSET}".encode())
    for name in ("replyline_model.json", "config.json"):
        path = Path(model_dir) / name
        digest.update(path.read_bytes() if path.is_file() else b"-")
    for package in ("torch", "transformers", "onnx"):
        digest.update(f"{package} {_version(package)}".encode())
    return digest.hexdigest()[:12]


def onnx_file(model_dir: str | os.PathLike, quantize: str) -> Path:
    """Where the ONNX graph for a quantize mode (`none` or `int8`) lives inside the model dir."""
    mode = "int8" if quantize == "int8" else "fp32"
    return Path(model_dir) / f"encoder-{mode}-{export_key(model_dir)}.onnx"


def _remove_stale(model_dir: Path) -> None:
    """Graphs of other keys (an older recipe or library) and of the first, unkeyed export."""
    keep = {onnx_file(model_dir, mode).name for mode in MODES}
    for path in model_dir.glob("encoder*.onnx"):
        if path.name not in keep and not path.name.startswith("."):
            path.unlink(missing_ok=True)


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

    from nlp.encoding import mean_pooled

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
            return torch.stack(
                [mean_pooled(h, attention_mask) for h in out.hidden_states[1:]], dim=1
            )

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
    """The float32 graph with per-token int8 matrix multiplications (`nlp.onnx_quantize`)."""
    import onnx

    from nlp.onnx_quantize import per_token_int8

    source = onnx_file(model_dir, "none")
    if not source.is_file():
        export_fp32(model_dir)
    target = onnx_file(model_dir, "int8")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".onnx", dir=model_dir)
    os.close(fd)
    try:
        onnx.save(per_token_int8(onnx.load(str(source))), tmp)
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
    _remove_stale(model_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
