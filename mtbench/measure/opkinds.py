"""Kinds of operator: the rows of `--by op`, one name for every spelling of an operator.

The same kind is given to fvcore's traced names (`conv`, `linear`), ptflops' dispatch-level
names (`convolution`, `addmm`) and the profiler's events (`aten::conv3d`), so the FLOPs of the
two counters and the profiled time land in the same rows. Reductions that squeeze a tensor
(`sum`, `mean`, `amax`) are pooling: in these networks they are global or per-frame pools.
"""

from __future__ import annotations

KINDS = (
    "dense conv",
    "grouped conv",
    "linear/matmul",
    "attention",
    "recurrent",
    "pooling",
    "normalisation",
    "elementwise",
    "data movement",
    "other",
)

_MATMUL = {"linear", "addmm", "mm", "bmm", "matmul", "einsum", "baddbmm", "addbmm", "mv", "dot"}
_RECURRENT = ("gru", "lstm", "rnn_tanh", "rnn_relu", "mkldnn_rnn", "cudnn_rnn", "thnn_fused")
_POOLING = {"sum", "mean", "amax", "amin", "softpool"}
_MOVEMENT = {
    "t",
    "to",
    "view",
    "cat",
    "stack",
    "pad",
    "index",
    "slice",
    "narrow",
    "split",
    "chunk",
    "unbind",
    "expand",
    "repeat",
    "flatten",
    "unflatten",
    "unsqueeze",
    "squeeze",
    "select",
    "gather",
    "scatter",
    "roll",
    "flip",
    "unfold",
    "movedim",
    "detach",
    "alias",
    "clone",
    "copy",
    "contiguous",
    "permute",
    "transpose",
    "reshape",
    "as_strided",
    "to_copy",
    "fill",
    "zero",
    "resize",
    "lift_fresh",
    "expand_as",
    "view_as",
    "reshape_as",
    "split_with_sizes",
    "repeat_interleave",
    "index_select",
    "masked_fill",
    "new_zeros",
    "new_empty",
}
_MOVEMENT_PREFIX = (
    "empty",
    "zeros",
    "ones",
    "constant_pad",
    "reflection_pad",
    "replication_pad",
    "upsample",
    "index_",
    "slice_",
    "select_",
    "copy",
)
_ELEMENTWISE = (
    "add",
    "sub",
    "rsub",
    "mul",
    "div",
    "neg",
    "exp",
    "log",
    "sqrt",
    "rsqrt",
    "pow",
    "abs",
    "relu",
    "sigmoid",
    "tanh",
    "gelu",
    "silu",
    "hardswish",
    "hardsigmoid",
    "hardtanh",
    "elu",
    "leaky_relu",
    "softmax",
    "log_softmax",
    "clamp",
    "lerp",
    "addcmul",
    "addcdiv",
    "dropout",
    "native_dropout",
    "bernoulli",
    "threshold",
    "softplus",
    "mish",
    "maximum",
    "minimum",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "sign",
    "round",
    "reciprocal",
    "erf",
    "cos",
    "sin",
    "where",
)


def plain_name(name: str) -> str:
    """'aten::conv3d' / 'aten._convolution.default' / 'add_' -> 'conv3d' / 'convolution' / 'add'."""
    name = name.split("::")[-1].removeprefix("aten.").split(".")[0]
    return name.strip("_")


def op_kind(name: str, groups: int = 1) -> str:
    """The kind of an operator, from any of its spellings; a convolution with more than one
    group (depthwise, channel-separated, MTNet's sub-streams) is grouped."""
    op = plain_name(name)
    if "attention" in op:
        return "attention"
    if op.startswith(_RECURRENT):
        return "recurrent"
    if "conv" in op and "convert" not in op:
        return "grouped conv" if groups > 1 or "depthwise" in op else "dense conv"
    if op in _MATMUL:
        return "linear/matmul"
    if "pool" in op or op in _POOLING:
        return "pooling"
    if "norm" in op:
        return "normalisation"
    if op in _MOVEMENT or op.startswith(_MOVEMENT_PREFIX):
        return "data movement"
    if op in _ELEMENTWISE or op.startswith(("add", "mul", "div", "sub", "clamp", "relu")):
        return "elementwise"
    return "other"


def conv_groups(input_shape: list[int] | tuple[int, ...], weight_shape: list[int]) -> int:
    """Groups of a convolution from its input (B, C_in, ...) and weight (C_out, C_in/g, ...)."""
    if len(input_shape) < 2 or len(weight_shape) < 2 or not weight_shape[1]:
        return 1
    return max(1, input_shape[1] // weight_shape[1])
