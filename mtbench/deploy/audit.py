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

A recurrent layer (ONNX's GRU/LSTM/RNN, OpenVINO's GRUSequence and the CPU plugin's RNNSeq it
runs as) is a compute operator too: its weights are named by neither graph, so it is matched
to its `nn.GRU`/`nn.LSTM`/`nn.RNN` by the input weights' size, in call order, one operator per
layer (neither toolchain quantizes one: MTNet's recurrent cells stay in float).

Each operator's module path lets `mtbench.measure` weigh it by fvcore's FLOPs of that module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

OPENVINO_RECURRENT = ("GRUSequence", "LSTMSequence", "RNNSequence")
OPENVINO_COMPUTE = (
    *OPENVINO_RECURRENT,
    "RNNSeq",  # the CPU plugin's runtime layer of a *Sequence
    "RNNCell",
    "Convolution",
    "GroupConvolution",
    "Deconvolution",
    "FullyConnected",
    "MatMul",
    "ScaledDotProductAttention",
)
ONNX_RECURRENT = ("GRU", "LSTM", "RNN")
ONNX_COMPUTE = ("Conv", "ConvTranspose", "MatMul", "Gemm", *ONNX_RECURRENT)
ONNX_INTEGER = ("QLinearConv", "QLinearMatMul", "ConvInteger", "MatMulInteger")
TORCH_RECURRENT = ("gru", "lstm", "rnn_tanh", "rnn_relu")
TORCH_COMPUTE = (
    "conv1d",
    "conv2d",
    "conv3d",
    "linear",
    "matmul",
    "bmm",
    "mm",
    "addmm",
    *TORCH_RECURRENT,
)
_SUFFIXES = ("_quantized", "_packed_weight")


@dataclass(frozen=True)
class Called:
    """A module with weights as one forward calls it: a convolution or linear layer, or one
    layer of a recurrent module (`size`: its input weights' elements, both directions)."""

    path: str
    size: int
    recurrent: bool


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


def _by_size(free: list[Called], size: int, recurrent: bool) -> str | None:
    """The first module not yet matched, in call order, of this kind and weight size."""
    found = next(
        (i for i, c in enumerate(free) if c.size == size and c.recurrent == recurrent), None
    )
    return free.pop(found).path if found is not None else None


def onnx_ops(path: str, called: list[Called]) -> list[AuditedOp]:
    """The compute operators of a (QDQ) ONNX file; `called` (`called_weights`) names the
    recurrent layers' modules."""
    import onnx

    graph = onnx.load(path, load_external_data=False).graph
    producer = {out: node for node in graph.node for out in node.output}
    shapes = {init.name: int(np.prod(init.dims)) for init in graph.initializer}
    free = [c for c in called if c.recurrent]

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
            if node.op_type in ONNX_RECURRENT:
                module = _by_size(free, shapes.get(source, 0), recurrent=True)
            else:
                module = _module_of_weight(source)
            ops.append(AuditedOp(node.op_type, module, int8))
    return ops


def _layers(module: Any) -> list[int]:
    """Input weights' elements of each layer of a recurrent module (both directions)."""
    sizes = []
    for layer in range(module.num_layers):
        names = (f"weight_ih_l{layer}", f"weight_ih_l{layer}_reverse")
        sizes.append(sum(getattr(module, n).numel() for n in names if hasattr(module, n)))
    return sizes


def called_weights(model: Any, clip: Any) -> list[Called]:
    """Each module without children that holds a weight of two or more dimensions (a
    convolution, a linear layer), and each layer of each recurrent module, in the order one
    forward calls them."""
    import torch
    from torch import nn

    order: list[Called] = []
    hooks = []
    for path, module in model.named_modules():
        if isinstance(module, nn.RNNBase):
            called = [Called(path, n, True) for n in _layers(module)]
        else:
            weight = getattr(module, "weight", None)
            if any(module.children()) or not isinstance(weight, torch.Tensor) or weight.dim() < 2:
                continue
            called = [Called(path, weight.numel(), False)]
        hooks.append(module.register_forward_hook(lambda *_, c=called: order.extend(c)))
    try:
        with torch.no_grad():
            model(clip)
    finally:
        for hook in hooks:
            hook.remove()
    return order


def _openvino_names(model: Any, called: list[Called]) -> dict[str, str]:
    """IR name of each compute operator -> its module: OpenVINO's conversion renames a
    convolution it fuses a BatchNorm into, so each operator is matched, in graph order, to the
    first module not yet matched, in call order, whose weight has as many elements (a
    *Sequence's input weights are its fourth input)."""
    names, free = {}, list(called)
    for op in model.get_ordered_ops():
        kind = op.get_type_name()
        recurrent = kind in OPENVINO_RECURRENT
        weight = 3 if recurrent else 1
        if kind not in OPENVINO_COMPUTE or op.get_input_size() <= weight:
            continue
        shape = op.input_value(weight).get_partial_shape()
        if not shape.is_static:
            continue
        module = _by_size(free, int(np.prod(shape.to_shape())), recurrent)
        if module is not None:
            names[op.get_friendly_name()] = module
    return names


def openvino_ops(model: Any, compiled: Any, called: list[Called]) -> list[AuditedOp]:
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
        # a fused operator may carry a name derived from its IR one (".../MatMul/Dequantization
        # Multiply" for ".../MatMul")
        candidates = [k for n in original for k in (n, n.rsplit("/", 1)[0])]
        module = next((names[k] for k in candidates if k in names), None)
        precision = info["runtimePrecision"].astype(str)
        ops.append(AuditedOp(kind, module, precision in ("i8", "u8")))
    return ops


def _target_name(node: Any) -> str:
    """`aten.conv3d.default` -> `conv3d`; `aten.gru.input` -> `gru`; `quantized.conv3d` ->
    `conv3d`."""
    packet = getattr(node.target, "overloadpacket", None)
    if packet is not None:
        return str(packet.__name__)
    return str(getattr(node.target, "__name__", node.target)).split(".")[-1]


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
