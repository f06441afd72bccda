"""FLOPs by two independent counters: fvcore (JIT trace) and ptflops (aten dispatch).

Convention, as in the paper and the action-recognition literature: one fused multiply-add
is one FLOP (fvcore's unit; ptflops calls the same quantity MACs). Convolutions, linear
layers and matrix products carry the count; recurrent cells are counted as the matrix
products they are; reductions that add (average pooling, sum, mean) cost one FLOP per
element they read (fvcore's own rule for adaptive pooling), so SoftPool's window sum
and the squeeze of a recurrent cell are counted; an interpolation (lerp) is one
multiply-add per output; max pooling costs nothing (it compares, it does not multiply-add);
normalisation layers are
counted as fvcore counts them unless `count_norm=False` (how PySlowFast's zoo reports).
Attention is its two batched products, Q K^T and (softmax) V, one multiply-add per
product term, whichever kernel runs it: a fused `scaled_dot_product_attention` (flash,
memory-efficient, cuDNN or CPU kernel) counts what its explicit matmuls would, and the
softmax and scaling stay free like every elementwise operator.
Elementwise activations, additions and products are free by the same convention; any
other operator the trace meets is reported in `skipped_ops`, never silently dropped.

ptflops' default `pytorch` backend hooks modules by exact class and counts subclasses of
nn.Conv3d (torchvision's Conv3DSimple) as zero; its `aten` backend sees every convolution
at dispatch level, so it is the second counter here: one more forward pass on the same input
(on real tensors: meta tensors looked cheaper but run their shape functions in Python and
took four times as long on MTNet-132).

Each counter runs once per cell, through its public API: one `FlopCountAnalysis` (fvcore
traces once and answers `total()`, `by_module()` and `by_operator()` from that trace) and one
`ptflops.get_model_complexity_info(..., backend='aten')`, which returns the total only (its
per-module statistics are printed text, for the root's children only), so ptflops is the
totals' cross-check and a breakdown's rows are fvcore's.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import torch
from fvcore.nn import FlopCountAnalysis
from fvcore.nn.jit_handles import get_shape
from ptflops import get_model_complexity_info
from torch import nn

# Free by convention: elementwise and data-movement operators absent from fvcore's own
# ignore list. Everything not here and not handled is reported as skipped.
ZERO_COST_OPS = frozenset(
    f"aten::{op}"
    for op in (
        "add add_ sub sub_ rsub mul mul_ div div_ neg exp exp_ log sqrt rsqrt pow abs "
        "sigmoid sigmoid_ tanh tanh_ relu6 hardtanh hardtanh_ hardsigmoid hardswish silu "
        "gelu leaky_relu leaky_relu_ elu softmax log_softmax clamp_min clamp_max minimum "
        "maximum where amax amin max min argmax topk sort argsort cumsum "
        "index_select masked_select repeat repeat_interleave expand_as view_as flip "
        "pad constant_pad_nd contiguous clone detach_ zero_ fill_ ones_like empty_like "
        "rand_like randn_like bernoulli_ dropout_ feature_dropout alpha_dropout "
        "linalg_vector_norm norm frobenius_norm cosine_similarity div_ mul_ addcmul "
        "lt le ne logical_and logical_or logical_not sign round ceil avg_pool3d_backward "
        "unflatten movedim swapaxes numpy_T mT is_nonzero item new_ones stack "
        "max_pool1d max_pool2d max_pool3d max_pool3d_with_indices adaptive_max_pool3d "
        "all any argmin tensor_split"
    ).split()
)

NORM_OPS = ("aten::batch_norm", "aten::group_norm", "aten::layer_norm", "aten::instance_norm")


@dataclass
class FlopCount:
    """GFLOPs per clip from both counters and how far apart they are."""

    gflops: float
    gflops_ptflops: float
    rel_diff: float
    skipped_ops: list[str] = field(default_factory=list)
    by_operator: dict[str, float] = field(default_factory=dict)


def _recurrent_macs(gates: int) -> Callable[[list[Any], list[Any]], int]:
    """aten::gru / lstm / rnn: per step, per layer and direction, gates x (in + hidden) x hidden."""

    def handle(inputs: list[Any], outputs: list[Any]) -> int:
        in_shape, out_shape = get_shape(inputs[0]), get_shape(outputs[0])
        if in_shape is None or out_shape is None or len(in_shape) != 3:
            return 0  # packed sequences: not used by any model here
        num_layers = inputs[4].toIValue()
        directions = 2 if inputs[7].toIValue() else 1
        batch_first = inputs[8].toIValue()
        batch, steps = (in_shape[0], in_shape[1]) if batch_first else (in_shape[1], in_shape[0])
        hidden = out_shape[-1] // directions
        per_step = 0
        layer_in = in_shape[2]
        for _ in range(num_layers):
            per_step += directions * gates * (layer_in * hidden + hidden * hidden)
            layer_in = directions * hidden
        return batch * steps * per_step

    return handle


def _int_list(value: Any) -> list[int] | None:
    """A traced int[] argument, whether constant or built by prim::ListConstruct."""
    constant = value.toIValue()
    if constant is not None:
        return list(constant)
    node = value.node()
    if node.kind() != "prim::ListConstruct":
        return None
    items = [v.toIValue() for v in node.inputs()]
    return items if all(isinstance(i, int) for i in items) else None


def _window_pool_jit(inputs: list[Any], outputs: list[Any]) -> int:
    """Average pooling: each output element sums one window."""
    kernel = _int_list(inputs[1])
    if kernel is None:
        return math.prod(get_shape(inputs[0]))
    return math.prod(get_shape(outputs[0])) * math.prod(kernel)


def _reads_input_jit(inputs: list[Any], outputs: list[Any]) -> int:
    """A reduction that adds: one FLOP per element of its input."""
    return math.prod(get_shape(inputs[0]))


def _per_output_jit(inputs: list[Any], outputs: list[Any]) -> int:
    return math.prod(get_shape(outputs[0]))


def _cdist_jit(inputs: list[Any], outputs: list[Any]) -> int:
    """Pairwise distances (B, P, M) x (B, R, M): one multiply-add per pair and feature."""
    *batch, pairs, features = get_shape(inputs[0])
    return math.prod(batch) * pairs * get_shape(inputs[1])[-2] * features


def _attention_macs(query: Sequence[int], key: Sequence[int], value: Sequence[int]) -> int:
    """(..., L, E) queries against (..., S, E) keys and (..., S, Ev) values: L x S x E for
    Q K^T plus L x S x Ev for the weighted sum of values, per batch and head."""
    *batch, length, embed = query
    return math.prod(batch) * length * key[-2] * (embed + value[-1])


def _attention_jit(inputs: list[Any], outputs: list[Any]) -> int:
    return _attention_macs(*(get_shape(v) for v in inputs[:3]))


def _zero(inputs: list[Any], outputs: list[Any]) -> int:
    return 0


_POOL_DIMS = ("1d", "2d", "3d")
FVCORE_HANDLES: dict[str, Callable[[list[Any], list[Any]], int]] = {
    "aten::gru": _recurrent_macs(3),
    "aten::lstm": _recurrent_macs(4),
    "aten::rnn_tanh": _recurrent_macs(1),
    "aten::rnn_relu": _recurrent_macs(1),
    "aten::cdist": _cdist_jit,
    **{f"aten::avg_pool{d}": _window_pool_jit for d in _POOL_DIMS},
    **{f"aten::adaptive_avg_pool{d}": _reads_input_jit for d in _POOL_DIMS},
    "aten::sum": _reads_input_jit,
    "aten::mean": _reads_input_jit,
    "aten::lerp": _per_output_jit,
    "aten::scaled_dot_product_attention": _attention_jit,
}


def _numel(x: Any) -> int:
    return x.numel() if isinstance(x, torch.Tensor) else 0


def _window_pool_aten(args: tuple[Any, ...], outs: tuple[Any, ...]) -> int:
    return _numel(outs[0]) * math.prod(args[1])


def _reads_input_aten(args: tuple[Any, ...], outs: tuple[Any, ...]) -> int:
    return _numel(args[0])


def _per_output_aten(args: tuple[Any, ...], outs: tuple[Any, ...]) -> int:
    return _numel(outs[0])


def _mkldnn_rnn_layer_aten(args: tuple[Any, ...], outs: tuple[Any, ...]) -> int:
    """One layer and direction of oneDNN's fused LSTM (the CPU path): every step multiplies
    its input by W_ih and the previous hidden state by W_hh."""
    inputs, w_ih, w_hh = args[0], args[1], args[2]
    steps_x_batch = _numel(inputs) // inputs.shape[-1]
    return steps_x_batch * (_numel(w_ih) + _numel(w_hh))


def _attention_aten(args: tuple[Any, ...], outs: tuple[Any, ...]) -> int:
    return _attention_macs(args[0].shape, args[1].shape, args[2].shape)


def _cdist_aten(args: tuple[Any, ...], outs: tuple[Any, ...]) -> int:
    return _numel(outs[0]) * args[0].shape[-1]


def _norm_aten(per_element: Callable[[tuple[Any, ...]], int]) -> Callable[..., int]:
    def handle(args: tuple[Any, ...], outs: tuple[Any, ...]) -> int:
        return _numel(args[0]) * per_element(args)

    return handle


def _affine(index: int, with_affine: int, without: int) -> Callable[[tuple[Any, ...]], int]:
    return lambda args: with_affine if len(args) > index and args[index] is not None else without


aten = torch.ops.aten
# The same quantities as FVCORE_HANDLES, written against dispatch-level operators.
PTFLOPS_REDUCTION_HOOKS = {
    aten.avg_pool1d: _window_pool_aten,
    aten.avg_pool2d: _window_pool_aten,
    aten.avg_pool3d: _window_pool_aten,
    aten._adaptive_avg_pool2d: _reads_input_aten,
    aten._adaptive_avg_pool3d: _reads_input_aten,
    aten.sum: _reads_input_aten,
    aten.mean: _reads_input_aten,
    aten.lerp: _per_output_aten,
    aten.mkldnn_rnn_layer: _mkldnn_rnn_layer_aten,
    aten._cdist_forward: _cdist_aten,
    aten._euclidean_dist: _cdist_aten,
    # The fused attention kernels that scaled_dot_product_attention dispatches to; its math
    # fallback reaches the counter as the matmuls it is made of.
    **{
        getattr(aten, op): _attention_aten
        for op in (
            "_scaled_dot_product_flash_attention_for_cpu",
            "_scaled_dot_product_flash_attention",
            "_scaled_dot_product_efficient_attention",
            "_scaled_dot_product_cudnn_attention",
            "_scaled_dot_product_fused_attention_overrideable",
        )
        if hasattr(aten, op)
    },
}
# fvcore: eval-mode batch norm 2 per element with affine (1 without); group / layer norm 5
# with affine (4 without); instance norm as fvcore's norm_flop_counter(1).
PTFLOPS_NORM_HOOKS = {
    aten.native_batch_norm: _norm_aten(_affine(1, 2, 1)),
    aten._native_batch_norm_legit_no_training: _norm_aten(_affine(1, 2, 1)),
    aten.native_group_norm: _norm_aten(_affine(1, 5, 4)),
    aten.native_layer_norm: _norm_aten(_affine(2, 5, 4)),
}


def fvcore_analysis(model: nn.Module, x: torch.Tensor, count_norm: bool) -> FlopCountAnalysis:
    """fvcore's analysis with mtbench's handles: `total()` is the fvcore figure of a record,
    `by_module()` its attribution to module paths."""
    analysis = FlopCountAnalysis(model, x)
    analysis.set_op_handle(**FVCORE_HANDLES)
    analysis.set_op_handle(**dict.fromkeys(ZERO_COST_OPS))
    if not count_norm:
        # A None handle would not replace fvcore's built-in norm handles; zero does.
        analysis.set_op_handle(**dict.fromkeys(NORM_OPS, _zero))
    analysis.unsupported_ops_warnings(False)
    analysis.uncalled_modules_warnings(False)
    analysis.tracer_warnings("none")
    return analysis


def ptflops_hooks(count_norm: bool) -> dict[Any, Callable[..., int]]:
    """The operators ptflops counts beyond its own table, as the second counter counts them."""
    hooks = dict(PTFLOPS_REDUCTION_HOOKS)
    if count_norm:
        hooks.update(PTFLOPS_NORM_HOOKS)
    return hooks


class _Childless(nn.Module):
    """The model behind a module with no children: ptflops' aten backend registers forward
    hooks on the children of the module it is given and never removes them, and a model
    timed after counting must run without them."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self._model = (model,)  # in a tuple: not registered as a child

    def forward(self, clip: torch.Tensor) -> Any:
        return self._model[0](clip)


def ptflops_total(model: nn.Module, x: torch.Tensor, count_norm: bool) -> int:
    """ptflops' aten count of one forward of `model` on `x`, multiply-adds in the batch."""
    macs, _ = get_model_complexity_info(
        _Childless(model),
        tuple(x.shape),
        print_per_layer_stat=False,
        as_strings=False,
        input_constructor=lambda _: {"clip": x},
        custom_modules_hooks=ptflops_hooks(count_norm),
        backend="aten",
    )
    if macs is None:  # ptflops prints the exception and returns None
        raise RuntimeError("ptflops' aten backend could not count the model (reason above)")
    return int(macs)


@dataclass
class FlopTraces:
    """One fvcore analysis and one ptflops count of the same input: the record's totals and,
    from the same analysis, any attribution of them (`by_module()`, `by_operator()`)."""

    analysis: FlopCountAnalysis
    ptflops_total: int
    batch: int

    @property
    def fvcore_total(self) -> int:
        return int(self.analysis.total())

    def flop_count(self) -> FlopCount:
        """Per clip, as a record holds them."""
        gflops = self.fvcore_total / 1e9 / self.batch
        gflops_pt = self.ptflops_total / 1e9 / self.batch
        largest = max(gflops, gflops_pt)
        by_op = {op: n / 1e9 / self.batch for op, n in self.analysis.by_operator().items() if n}
        return FlopCount(
            gflops,
            gflops_pt,
            abs(gflops - gflops_pt) / largest if largest else 0.0,
            sorted(self.analysis.unsupported_ops()),
            by_op,
        )


def trace_flops(
    model: nn.Module,
    x: torch.Tensor,
    count_norm: bool,
    during_ptflops: AbstractContextManager[Any] | None = None,
) -> FlopTraces:
    """Each counter once on `x` (the model put in eval mode); `during_ptflops` is entered
    around ptflops' forward, so that a breakdown counts bytes in that same pass."""
    model.eval()
    with torch.no_grad():
        analysis = fvcore_analysis(model, x, count_norm)
        analysis.total()  # the trace; fvcore keeps its result for every later query
        with during_ptflops or nullcontext():
            pt_total = ptflops_total(model, x, count_norm)
    return FlopTraces(analysis, pt_total, x.shape[0])


def clip_for(model: nn.Module, input_shape: Sequence[int]) -> torch.Tensor:
    """A random input of `input_shape` on the model's device, in its floating dtype."""
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    dtype = param.dtype if param is not None and param.is_floating_point() else torch.float32
    return torch.randn(tuple(int(s) for s in input_shape), device=device, dtype=dtype)


def count_flops(
    model: nn.Module, input_shape: Sequence[int], *, count_norm: bool = True
) -> FlopCount:
    """GFLOPs per clip of `model` (put in eval mode) on a (B, 3, T, H, W) input."""
    return trace_flops(model, clip_for(model, input_shape), count_norm).flop_count()
