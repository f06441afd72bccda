"""Which compute operators of a quantized network ran in INT8 and which stayed in float.

Compute operators are the convolutions and matrix products (the FLOPs of a video network);
each toolchain's own graph says how each ran:

- OpenVINO: the compiled model's runtime graph (`get_runtime_model()`), each operator's
  `runtimePrecision` (i8/u8 is INT8); its module matched through the quantized IR by weight
  size in call order (the conversion renames a convolution it fuses a BatchNorm into).
- ONNX Runtime: the QDQ graph; a Conv/MatMul/Gemm whose input and weight both come from a
  DequantizeLinear runs in INT8 (ONNX Runtime fuses the pair into its integer kernels); its
  module is its weight's initializer name.
- PyTorch PT2E: the converted graph; an aten convolution or linear whose input and weight are
  both dequantized ran in INT8 (Inductor lowers the pattern); its module from `nn_module_stack`.
- PyTorch FX: the converted GraphModule's quantized modules and `quantized::` operators.

Each operator's module path lets `mtbench.measure` weigh it by fvcore's FLOPs of that module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

OPENVINO_COMPUTE = (
    "Convolution",
    "GroupConvolution",
    "Deconvolution",
    "FullyConnected",
    "MatMul",
    "GRUSequence",
    "LSTMSequence",
    "RNNSequence",
    "ScaledDotProductAttention",
)
ONNX_COMPUTE = ("Conv", "ConvTranspose", "MatMul", "Gemm", "GRU", "LSTM", "RNN")
ONNX_INTEGER = ("QLinearConv", "QLinearMatMul", "ConvInteger", "MatMulInteger")
TORCH_COMPUTE = ("conv1d", "conv2d", "conv3d", "linear", "matmul", "bmm", "mm", "addmm")
_SUFFIXES = ("_quantized", "_packed_weight")


@dataclass(frozen=True)
class AuditedOp:
    """One compute operator: its type, the module it belongs to (None: not matched) and
    whether it ran in INT8."""

    type: str
    module: str | None
    int8: bool


def summary(ops: list[AuditedOp], source: str, match: str) -> dict[str, Any]:
    """The record's `Audit`, FLOP shares unset (mtbench.measure fills them)."""
    by_type: dict[str, list[int]] = {}
    for op in ops:
        by_type.setdefault(op.type, [0, 0])[0 if op.int8 else 1] += 1
    int8 = sum(op.int8 for op in ops)
    return {
        "source": source,
        "int8_ops": int8,
        "float_ops": len(ops) - int8,
        "by_type": by_type,
        "int8_modules": [op.module for op in ops if op.int8 and op.module is not None],
        "float_modules": [op.module or op.type for op in ops if not op.int8],
        "int8_flops_share": None,
        "matched_flops_share": None,
        "match": match,
    }


def _module_of_weight(name: str) -> str | None:
    """`layer1.0.conv1.0.weight_quantized` -> `layer1.0.conv1.0`; None for a generated name."""
    for suffix in _SUFFIXES:
        name = name.split(suffix)[0]
    if not name.endswith(".weight"):
        return None
    return name.removesuffix(".weight")


def onnx_ops(path: str) -> list[AuditedOp]:
    """The compute operators of a (QDQ) ONNX file."""
    import onnx

    graph = onnx.load(path, load_external_data=False).graph
    producer = {out: node for node in graph.node for out in node.output}

    def dequantized(name: str) -> bool:
        node = producer.get(name)
        return node is not None and node.op_type == "DequantizeLinear"

    ops = []
    for node in graph.node:
        if node.op_type in ONNX_INTEGER:
            ops.append(AuditedOp(node.op_type, None, True))
        elif node.op_type in ONNX_COMPUTE and len(node.input) > 1:
            weight = node.input[1]
            int8 = dequantized(node.input[0]) and dequantized(weight)
            source = producer[weight].input[0] if dequantized(weight) else weight
            ops.append(AuditedOp(node.op_type, _module_of_weight(source), int8))
    return ops


def called_weights(model: Any, clip: Any) -> list[tuple[str, int]]:
    """(path, weight size) of each module without children that holds a weight of two or more
    dimensions (a convolution, a linear layer), in the order one forward calls them."""
    import torch

    order: list[tuple[str, int]] = []
    hooks = []
    for path, module in model.named_modules():
        weight = getattr(module, "weight", None)
        if any(module.children()) or not isinstance(weight, torch.Tensor) or weight.dim() < 2:
            continue
        size = weight.numel()
        hooks.append(module.register_forward_hook(lambda *_, p=path, n=size: order.append((p, n))))
    try:
        with torch.no_grad():
            model(clip)
    finally:
        for hook in hooks:
            hook.remove()
    return order


def _openvino_names(model: Any, called: list[tuple[str, int]]) -> dict[str, str]:
    """IR name of each compute operator -> its module: OpenVINO's conversion renames a
    convolution it fuses a BatchNorm into, so each operator is matched, in graph order, to the
    first module not yet matched, in call order, whose weight has as many elements."""
    names, free = {}, list(called)
    for op in model.get_ordered_ops():
        if op.get_type_name() not in OPENVINO_COMPUTE or op.get_input_size() < 2:
            continue
        shape = op.input_value(1).get_partial_shape()
        if not shape.is_static:
            continue
        size = int(np.prod(shape.to_shape()))
        found = next((i for i, (_, n) in enumerate(free) if n == size), None)
        if found is not None:
            names[op.get_friendly_name()] = free.pop(found)[0]
    return names


def openvino_ops(model: Any, compiled: Any, called: list[tuple[str, int]]) -> list[AuditedOp]:
    """The compute operators of the compiled model's runtime graph, at their runtime
    precision; `model` is the IR it was compiled from, `called` the PyTorch modules with
    weights in call order (`called_weights`), for each operator's module."""
    names = _openvino_names(model, called)
    ops = []
    for op in compiled.get_runtime_model().get_ordered_ops():
        info = op.get_rt_info()
        kind = info["layerType"].astype(str)
        if kind not in OPENVINO_COMPUTE:
            continue
        original = info["originalLayersNames"].astype(str).split(",")
        module = next((names[n] for n in original if n in names), None)
        precision = info["runtimePrecision"].astype(str)
        ops.append(AuditedOp(kind, module, precision in ("i8", "u8")))
    return ops


def _target_name(node: Any) -> str:
    """`aten.conv3d.default` -> `conv3d`; `quantized.conv3d` -> `conv3d`."""
    text = str(getattr(node.target, "__name__", node.target))
    return text.split(".")[-2] if text.endswith(".default") else text.split(".")[-1]


def pt2e_ops(graph_module: Any) -> list[AuditedOp]:
    """The compute operators of a PT2E-converted graph: INT8 where input and weight are both
    dequantized (the pattern Inductor lowers to its INT8 kernels)."""

    def dequantized(arg: Any) -> bool:
        return hasattr(arg, "target") and "dequantize" in str(arg.target)

    ops = []
    for node in graph_module.graph.nodes:
        name = _target_name(node) if node.op == "call_function" else ""
        if name not in TORCH_COMPUTE:
            continue
        stack = node.meta.get("nn_module_stack") or {}
        module = list(stack.values())[-1][0] if stack else None
        int8 = len(node.args) > 1 and dequantized(node.args[0]) and dequantized(node.args[1])
        ops.append(AuditedOp(name, module, int8))
    return ops


def fx_ops(graph_module: Any, module_names: list[str]) -> list[AuditedOp]:
    """The compute operators of an FX-converted GraphModule: quantized modules and
    `quantized::` operators are INT8, float ones stayed float. `module_names` are the float
    model's module paths, to read a packed weight's attribute name back."""
    by_flat = {name.replace(".", "_"): name for name in module_names}
    ops = []
    for node in graph_module.graph.nodes:
        if node.op == "call_module":
            module = graph_module.get_submodule(node.target)
            kind = type(module).__name__.lower()
            where = type(module).__module__
            if not any(k in kind for k in ("conv", "linear")):
                continue
            int8 = ".quantized" in where
            ops.append(AuditedOp(type(module).__name__, node.target, int8))
        elif node.op == "call_function" and _target_name(node) in TORCH_COMPUTE:
            int8 = str(node.target).startswith("quantized.")
            weight = node.args[1] if len(node.args) > 1 else None
            attr = getattr(weight, "target", "") if weight is not None else ""
            flat = str(attr).replace(".", "_")
            flat = re.sub(r"_packed_weight_\d+$", "", flat).removesuffix("_weight")
            ops.append(AuditedOp(_target_name(node), by_flat.get(flat), int8))
    return ops
