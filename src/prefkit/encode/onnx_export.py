"""Build the ONNX Runtime form of a BERT-style sentence encoder, once, into prefkit's cache.

The pipeline (each step on the machine that uses the model; nothing is downloaded):

1. **Export** the Hugging Face model with ``torch.onnx.export`` (TorchScript exporter, eager
   attention so that ONNX Runtime recognises the attention pattern), output
   ``last_hidden_state``; dynamic batch and sequence axes.
2. **Fuse** with ONNX Runtime's BERT optimiser (``onnxruntime.transformers.optimizer``):
   ``EmbedLayerNormalization``, one ``Attention`` op per layer (Q, K, V in one weight),
   ``SkipLayerNormalization``, ``BiasGelu``.
3. **Smooth** (SmoothQuant, Xiao et al. 2023, arXiv:2211.10438): activation outliers sit in a few
   fixed channels, and dynamic int8 quantization uses one scale per activation tensor, so those
   channels cost every other channel its resolution.  For each quantized weight ``W`` (input
   channels ``j``) with calibrated activation maxima ``a_j = max |X_j|`` and weight maxima
   ``w_j = max_k |W_jk|``, ``s_j = a_j^α / w_j^(1−α)``; the graph computes
   ``(X · diag(1/s)) (diag(s) W)`` — the same product, with flatter activations.  The ``1/s``
   is one element-wise ``Mul`` before the op.  Calibration: :data:`CALIBRATION_TEXTS`.
4. **Quantize** dynamically (``onnxruntime.quantization.quantize_dynamic``): int8 weights per
   output channel, uint8 activations with a scale computed per batch; the fused ``Attention``
   and the weight ``MatMul`` ops; ``MatMul`` between two activations stays float.

The result lands in ``<cache root>/onnx-encoders/<key>/`` where ``key`` digests the model's
content fingerprint (:func:`prefkit.encode.fingerprint.directory_fingerprint`), the settings and
:data:`EXPORT_VERSION`; the directory is built beside and renamed into place (atomic), under a
lock so that concurrent workers (Ray actors) export once.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from prefkit.encode.cache import default_cache_root
from prefkit.errors import PrefkitError

#: bump when the pipeline changes what it writes (old exports are then ignored, never reused)
EXPORT_VERSION = 1
MODEL_FILE = "model.onnx"
FLOAT_FILE = "float.onnx"
SETTINGS_FILE = "settings.json"
ONNX_EXTRA = "pip install 'prefkit[onnx]'"


class OnnxExportError(PrefkitError, RuntimeError):
    """The ONNX form of an encoder cannot be built or loaded."""


@dataclass(frozen=True)
class OnnxSettings:
    """What the exported graph depends on besides the model weights (all part of the cache key).

    Attributes:
        quantize: int8 dynamic quantization (False: the fused float32 graph).
        per_channel: one weight scale per output channel.
        smooth_alpha: SmoothQuant migration strength α (``None``: no smoothing).
        float_ffn_out_layers: layers whose feed-forward output projection stays float32 (its
            input, the GELU output, is the hardest activation to quantize in the first layers).
        quantize_attention: quantize the fused Q/K/V projection (``Attention`` → ``QAttention``).
        attention_fusion: ``"attention"`` — one ``Attention`` op per layer holding the packed
            Q/K/V projection; ``"multi_head"`` — ``MultiHeadAttention`` after three separate
            Q/K/V ``MatMul`` nodes (quantized like the other weight products); ``"none"`` —
            attention left as its ``MatMul``/``Softmax`` nodes.
        float_max_tokens: batches whose longest text has at most this many tokens run on the
            float32 graph (kept beside the int8 one): in very short texts the [CLS]/[SEP]
            activations dominate the per-tensor scale and int8 loses ~1 % cosine, while such
            batches cost little anyway.
        opset: ONNX opset of the export.
    """

    quantize: bool = True
    per_channel: bool = True
    smooth_alpha: float | None = 0.5
    float_ffn_out_layers: tuple[int, ...] = (0, 1, 2)
    quantize_attention: bool = True
    float_max_tokens: int = 16
    attention_fusion: str = "attention"
    opset: int = 17
    extra: dict[str, Any] = field(default_factory=dict)

    def key(self, fingerprint: str) -> str:
        doc = {"model": fingerprint, "version": EXPORT_VERSION, **asdict(self)}
        if self.attention_fusion == "attention":  # added later: older exports keep their key
            del doc["attention_fusion"]
        blob = json.dumps(doc, sort_keys=True, default=list).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def label(self) -> str:
        """A short human name for the cache id (``int8-sq0.5-f012`` …)."""
        if not self.quantize:
            return "fp32"
        parts = ["int8" + ("" if self.per_channel else "-pt")]
        if self.smooth_alpha is not None:
            parts.append(f"sq{self.smooth_alpha:g}")
        if self.float_ffn_out_layers:
            parts.append("f" + "".join(str(k) for k in self.float_ffn_out_layers))
        if not self.quantize_attention:
            parts.append("noatt")
        return "-".join(parts)


#: sentences of varied topic and length whose activations set the smoothing scales (the outlier
#: channels of a BERT encoder are a property of the weights, not of the text, so a small fixed
#: set suffices; written for prefkit)
CALIBRATION_TEXTS = (
    "The quick brown fox jumps over the lazy dog.",
    "How do I reverse a linked list in Python without using extra memory?",
    "Photosynthesis converts light energy into chemical energy stored in glucose.",
    "Write a short poem about the sea at night, in the style of a sailor's song.",
    "The committee postponed its decision until the budget figures were audited.",
    "Error: connection refused when the client tried to reach port 5432 on localhost.",
    "She asked whether the museum would be open on the public holiday next Monday.",
    "In 1969 two astronauts walked on the Moon while a third orbited above them.",
    "def mean(xs):\n    return sum(xs) / len(xs)  # fails on an empty list",
    "Assistant: Sure! Here are three tips for better sleep: keep a schedule, avoid screens "
    "late at night, and keep your bedroom cool and dark.",
    "The derivative of x squared is two x, and the integral of two x is x squared plus C.",
    "Can you summarise the main arguments for and against a four-day working week?",
    "Les chats dorment beaucoup pendant la journée et chassent la nuit.",
    "I'm sorry, but I can't help with that request.",
    "Step 1: preheat the oven to 180 degrees. Step 2: mix flour, sugar and eggs. Step 3: bake "
    "for twenty-five minutes, then let the cake cool before slicing.",
    "The stock fell 12% after the company reported lower-than-expected quarterly revenue, and "
    "analysts cut their price targets, citing weaker demand in Europe and rising costs.",
    "Q: What is the capital of Australia? A: Canberra, not Sydney as many people assume.",
    "To be, or not to be, that is the question.",
    "A binary search halves the interval at each step, so it needs about log2(n) comparisons.",
    "The patient reported mild headaches, occasional dizziness and trouble sleeping for weeks.",
    "User: translate 'good morning' into Spanish. Assistant: 'Buenos días'.",
    "Climate models project more frequent heatwaves, heavier rainfall and rising sea levels "
    "over the coming decades, with large differences between regions and scenarios.",
    "ok",
    "Thanks, that worked perfectly!",
)


def export_dir(model_path: Path, settings: OnnxSettings, cache_root: Path | None = None) -> Path:
    """``<cache root>/onnx-encoders/<key>``: where this model's ONNX form lives (module doc)."""
    from prefkit.encode.fingerprint import directory_fingerprint

    root = Path(cache_root) if cache_root is not None else default_cache_root()
    return root / "onnx-encoders" / settings.key(directory_fingerprint(model_path))


def ensure_export(model_path: Path, settings: OnnxSettings, cache_root: Path | None = None,
                  *, max_tokens: int = 256) -> Path:
    """The ``model.onnx`` for ``model_path`` under ``settings``: built on first use (atomic,
    under a lock), reused afterwards."""
    final = export_dir(model_path, settings, cache_root)
    if (final / MODEL_FILE).is_file():
        return final / MODEL_FILE
    final.parent.mkdir(parents=True, exist_ok=True)
    lock_path = final.parent / f"{final.name}.lock"
    with open(lock_path, "a+b") as lock:
        try:
            import fcntl

            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        except ImportError:  # pragma: no cover - Windows: no lock, the rename still protects
            pass
        if not (final / MODEL_FILE).is_file():  # another worker may have built it meanwhile
            tmp = Path(tempfile.mkdtemp(prefix=".prefkit-tmp-", dir=final.parent))
            try:
                build(model_path, settings, tmp, max_tokens=max_tokens)
                os.replace(tmp, final)
            finally:
                if tmp.exists():
                    shutil.rmtree(tmp, ignore_errors=True)
    return final / MODEL_FILE


def build(model_path: Path, settings: OnnxSettings, out: Path, *, max_tokens: int = 256) -> None:
    """Export, fuse, smooth and quantize into ``out/model.onnx`` (+ ``settings.json``)."""
    try:
        import onnx
        import onnxruntime  # noqa: F401
    except ImportError:
        raise OnnxExportError(f"the ONNX encoder needs onnxruntime and onnx: {ONNX_EXTRA}"
                              ) from None
    raw, fused = out / "raw.onnx", out / "fused.onnx"
    _export_torch(model_path, raw, settings.opset)
    config = json.loads((model_path / "config.json").read_text(encoding="utf-8"))
    _fuse(raw, fused, int(config["num_attention_heads"]), int(config["hidden_size"]),
          settings.attention_fusion)
    raw.unlink()
    target = out / MODEL_FILE
    if not settings.quantize:
        shutil.copyfile(fused, target)
    else:
        model = onnx.load(str(fused))
        nodes = _quantizable(model, settings)
        if settings.smooth_alpha is not None:
            maxima = _calibrate(fused, model, nodes, model_path, max_tokens)
            _smooth(model, nodes, maxima, settings.smooth_alpha)
            smoothed = out / "smoothed.onnx"
            onnx.save(model, str(smoothed))
            _quantize(smoothed, target, [n.name for n in nodes], settings)
            smoothed.unlink()
        else:
            _quantize(fused, target, [n.name for n in nodes], settings)
    os.replace(fused, out / FLOAT_FILE)
    meta = {"settings": asdict(settings), "version": EXPORT_VERSION, "max_tokens": max_tokens,
            "source": str(model_path)}
    (out / SETTINGS_FILE).write_text(json.dumps(meta, indent=1, default=list), encoding="utf-8")


def _export_torch(model_path: Path, target: Path, opset: int) -> None:
    import warnings

    import torch
    from transformers import AutoModel, AutoTokenizer

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    model = AutoModel.from_pretrained(str(model_path), attn_implementation="eager").eval()
    tokenizer = AutoTokenizer.from_pretrained(str(model_path))

    class LastHidden(torch.nn.Module):
        """Keyword inputs: transformers 5 reorders positional arguments."""

        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.inner(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    sample = tokenizer(["an example", "a slightly longer example text"], padding=True,
                       return_tensors="pt")
    names = ["input_ids", "attention_mask", "token_type_ids"]
    kwargs = {k: sample[k] if k in sample else torch.zeros_like(sample["input_ids"])
              for k in names}
    axes = {k: {0: "batch", 1: "tokens"} for k in [*names, "last_hidden_state"]}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(LastHidden(model), (), str(target), kwargs=kwargs, input_names=names,
                          output_names=["last_hidden_state"], dynamic_axes=axes,
                          opset_version=opset, dynamo=False)


def _fuse(source: Path, target: Path, heads: int, hidden: int,
          attention_fusion: str = "attention") -> None:
    import logging

    from onnxruntime.transformers.fusion_options import FusionOptions
    from onnxruntime.transformers.optimizer import optimize_model

    logging.getLogger("onnxruntime.transformers").setLevel(logging.ERROR)
    options = FusionOptions("bert")
    if attention_fusion not in ("attention", "multi_head", "none"):
        raise OnnxExportError(f"unknown attention fusion {attention_fusion!r}")
    options.use_multi_head_attention = attention_fusion == "multi_head"
    options.enable_attention = attention_fusion != "none"
    fused = optimize_model(str(source), model_type="bert", num_heads=heads, hidden_size=hidden,
                           opt_level=0, optimization_options=options)
    fused.save_model_to_file(str(target))


def _is_ffn_out(name: str) -> bool:
    return "/output/dense/" in name and "/attention/" not in name


def _layer(name: str) -> int | None:
    marker = "layer."
    if marker not in name:
        return None
    digits = name.split(marker, 1)[1].split("/", 1)[0]
    return int(digits) if digits.isdigit() else None


def _quantizable(model: Any, settings: OnnxSettings) -> list[Any]:
    """The weight ``MatMul`` / fused ``Attention`` nodes to quantize (settings decide)."""
    weights = {init.name for init in model.graph.initializer}
    chosen = []
    for node in model.graph.node:
        if node.op_type == "Attention" and settings.quantize_attention:
            chosen.append(node)
        elif node.op_type == "MatMul" and node.input[1] in weights:
            if _is_ffn_out(node.name) and _layer(node.name) in settings.float_ffn_out_layers:
                continue
            chosen.append(node)
    return chosen


def _calibrate(path: Path, model: Any, nodes: list[Any], model_path: Path,
               max_tokens: int) -> dict[str, np.ndarray]:
    """Per-channel max |activation| at the input of each node, over :data:`CALIBRATION_TEXTS`."""
    import onnx
    import onnxruntime as ort
    from transformers import AutoTokenizer

    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    wanted = sorted({node.input[0] for node in nodes})
    present = {o.name for o in probe.graph.output}
    for name in wanted:
        if name not in present:
            probe.graph.output.append(onnx.helper.make_tensor_value_info(name, 1, None))
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(probe.SerializeToString(), options,
                                   providers=["CPUExecutionProvider"])
    outputs = [o.name for o in session.get_outputs()]
    tokenizer = AutoTokenizer.from_pretrained(str(model_path))
    inputs = {i.name for i in session.get_inputs()}
    maxima: dict[str, np.ndarray] = {}
    for text in CALIBRATION_TEXTS:  # one text per run: no padding rows in the maxima
        enc = tokenizer([text], truncation=True, max_length=max_tokens, return_tensors="np")
        feed = {k: np.asarray(enc[k], dtype=np.int64) if k in enc
                else np.zeros_like(enc["input_ids"], dtype=np.int64) for k in inputs}
        for name, value in zip(outputs, session.run(outputs, feed), strict=True):
            if name in wanted:
                peak = np.abs(value.reshape(-1, value.shape[-1])).max(axis=0)
                maxima[name] = np.maximum(maxima.get(name, peak), peak)
    return maxima


def _smooth(model: Any, nodes: list[Any], maxima: dict[str, np.ndarray], alpha: float) -> None:
    """Insert ``Mul(X, 1/s)`` before each node and scale its weight rows by ``s`` (module doc).

    Nodes sharing an input share one ``Mul`` only when they share a weight scale, so each node
    gets its own scaled copy of the input here (the product is unchanged either way)."""
    from onnx import helper, numpy_helper

    inits = {init.name: init for init in model.graph.initializer}
    new_nodes = []
    for k, node in enumerate(nodes):
        weight = numpy_helper.to_array(inits[node.input[1]]).astype(np.float32)  # (in, out)
        peak_w = np.maximum(np.abs(weight).max(axis=1), 1e-5)
        peak_x = np.maximum(maxima[node.input[0]], 1e-5)
        scale = np.clip(peak_x**alpha / peak_w ** (1.0 - alpha), 1e-2, 1e2).astype(np.float32)
        inits[node.input[1]].CopyFrom(
            numpy_helper.from_array(weight * scale[:, None], node.input[1]))
        inv_name, out_name = f"prefkit_smooth_{k}_inv", f"prefkit_smooth_{k}_out"
        model.graph.initializer.append(numpy_helper.from_array(1.0 / scale, inv_name))
        new_nodes.append((node, helper.make_node("Mul", [node.input[0], inv_name], [out_name],
                                                  name=f"prefkit_smooth_{k}")))
        node.input[0] = out_name
    order = list(model.graph.node)
    for node, mul in new_nodes:
        order.insert(order.index(node), mul)
    del model.graph.node[:]
    model.graph.node.extend(order)


def _quantize(source: Path, target: Path, names: list[str], settings: OnnxSettings) -> None:
    import logging

    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(max(level, logging.ERROR))  # the quantizer's "consider pre-processing" notes
    try:
        quantize_dynamic(
            str(source), str(target), weight_type=QuantType.QInt8,
            per_channel=settings.per_channel, op_types_to_quantize=["MatMul", "Attention"],
            nodes_to_quantize=names,
            extra_options={"MatMulConstBOnly": True, "DefaultTensorType": onnx.TensorProto.FLOAT},
        )
    finally:
        root.setLevel(level)
