"""Where the FLOPs, params and bytes sit: per module path at a depth, and per kind of operator.

FLOPs come from the traces that give the record's totals (`flops.trace_flops`: one fvcore
analysis, one ptflops count), so the rows add up to the totals of the same count: the rows
are fvcore's own `by_module()`, and by kind of operator its `by_module_and_operator()`.
ptflops' public API returns a total and no per-module count, so it is the totals'
cross-check, and a row's ptflops column is empty. What a parent computes outside its
children's forward (a residual added in `forward`, a class token) is the "outside modules"
row.

Bytes moved, the denominator of arithmetic intensity, are counted per operator as eager
execution moves them: every tensor an operator reads and every tensor it writes, once; an
operator that only makes a view moves nothing; weights and buffers are read once per batch,
so a clip carries 1/B of them.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from mtbench.measure.flops import FlopCount, clip_for, trace_flops
from mtbench.measure.opkinds import KINDS, conv_groups, op_kind

OUTSIDE_MODULES = "(outside modules)"
MIN_DEFAULT_ROWS = 5  # the default depth is the shallowest with at least this many rows
# A recurrent cell may reach dispatch as the matmuls it is made of (the CPU's GRU does): they
# are the cell's, as fvcore's traced `aten::gru` is.
RECURRENT_MODULES = (nn.RNNBase, nn.RNNCellBase)
# Containers whose forward is never called: their children's counts and times are theirs.
CONTAINERS = (nn.ModuleList, nn.ModuleDict)


def _depth(path: str) -> int:
    return path.count(".") + 1 if path else 0


def depths(model: nn.Module) -> dict[int, list[str]]:
    """Module paths by depth (1: the model's children), the model itself left out."""
    out: dict[int, list[str]] = defaultdict(list)
    for path, _ in model.named_modules():
        if path:
            out[_depth(path)].append(path)
    return dict(sorted(out.items()))


def rows_at(model: nn.Module, depth: int) -> list[str]:
    """The rows of a depth: its modules, and the leaves above it (a model's `fc` at depth 1
    is still a row at depth 3), so the rows cover the model without overlapping."""
    if depth == 0:
        return [""]
    return [
        path
        for path, module in model.named_modules()
        if path
        and (
            _depth(path) == depth
            or (_depth(path) < depth and next(module.children(), None) is None)
        )
    ]


def default_depth(model: nn.Module) -> int:
    """The model's stages or blocks: the shallowest depth with at least MIN_DEFAULT_ROWS rows
    (r3d-18: `layer1`..; MTNet: `blocks.3`; X3D: `blocks.2`), else the deepest."""
    found = depths(model)
    for depth in found:
        if len(rows_at(model, depth)) >= MIN_DEFAULT_ROWS:
            return depth
    return max(found, default=0)


def depth_problem(model: nn.Module, depth: int) -> str | None:
    """Why `depth` has no rows, naming the depths that exist; None when it has some."""
    found = depths(model)
    if depth == 0 or depth in found:
        return None
    if depth < 0:
        return f"depth must be >= 0, got {depth}"
    listing = "; ".join(
        f"{d}: {', '.join(paths[:4])}{', ...' if len(paths) > 4 else ''} ({len(paths)})"
        for d, paths in found.items()
        if d <= 3
    )
    deepest = max(found, default=0)
    return f"no modules at depth {depth}; depths 0-{deepest} exist ({listing})"


def called_parts(model: nn.Module, path: str) -> list[str]:
    """The module at `path`, or for a container (never called itself) its called parts."""
    module = dict(model.named_modules())[path]
    if not isinstance(module, CONTAINERS):
        return [path]
    prefix = f"{path}." if path else ""
    return [p for name, _ in module.named_children() for p in called_parts(model, prefix + name)]


def _per_row(model: nn.Module, rows: list[str], values: dict[str, float]) -> dict[str, Any]:
    return {r: sum(values.get(p, 0) for p in called_parts(model, r)) for r in rows}


def _storage(t: torch.Tensor) -> int:
    return t.untyped_storage().data_ptr()


def _numel(obj: Any) -> int:
    return sum(t.numel() for t in tree_leaves(obj) if isinstance(t, torch.Tensor))


class BytesMoved(TorchDispatchMode):
    """Elements each operator reads and writes, credited to every module path on the call
    stack and to its kind of operator, and the elements each module outputs. Its module
    hooks live while the mode is entered."""

    def __init__(self, model: nn.Module, batch: int):
        super().__init__()
        self.moved: dict[str, float] = defaultdict(float)  # elements, per clip
        self.outputs: dict[str, int] = defaultdict(int)  # output elements per module
        self.kinds: dict[str, float] = dict.fromkeys(KINDS, 0.0)
        self.total = 0.0
        self._model = model
        # By storage, so that a weight read through a view (`t()` before `addmm`) is a weight.
        self._weights = {_storage(t) for t in chain(model.parameters(), model.buffers())}
        self._batch = batch
        self._stack: list[str] = []
        self._recurrent = 0  # >0 inside a recurrent module: its matmuls are the cell's
        self._handles: list[Any] = []

    def __enter__(self) -> BytesMoved:
        for path, module in self._model.named_modules():
            self._handles.append(module.register_forward_pre_hook(self._enter(path)))
            self._handles.append(module.register_forward_hook(self._leave(path)))
        return super().__enter__()

    def __exit__(self, *exc: Any) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        super().__exit__(*exc)

    def _enter(self, path: str) -> Callable[..., None]:
        def enter(module: nn.Module, args: Any) -> None:
            self._stack.append(path)
            self._recurrent += isinstance(module, RECURRENT_MODULES)

        return enter

    def _leave(self, path: str) -> Callable[..., None]:
        def leave(module: nn.Module, args: Any, out: Any) -> None:
            self._stack.pop()
            self._recurrent -= isinstance(module, RECURRENT_MODULES)
            self.outputs[path] += _numel(out)

        return leave

    def _moved(self, func: Any, args: Any, outs: Any) -> float:
        if getattr(func, "is_view", False):  # a view moves nothing
            return 0.0
        read = 0.0
        for t in tree_leaves(args):
            if isinstance(t, torch.Tensor):
                read += t.numel() / self._batch if _storage(t) in self._weights else t.numel()
        return read + _numel(outs)

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None):
        out = func(*args, **(kwargs or {}))
        moved = self._moved(func, args, out)
        for path in self._stack:
            self.moved[path] += moved
        self.total += moved
        packet = func._overloadpacket
        groups = 1
        if "conv" in packet.__name__ and len(args) > 1:
            groups = conv_groups(tuple(args[0].shape), list(args[1].shape))
        self.kinds["recurrent" if self._recurrent else op_kind(packet.__name__, groups)] += moved
        return out


@dataclass
class Counts:
    """Integer FLOPs (one multiply-add = one FLOP) and params per row, elements moved per clip;
    `kinds` holds [fvcore FLOPs, elements moved] per kind of operator; `flops` is the record's
    totals from the same traces."""

    rows: list[str]
    params: dict[str, int]
    fvcore: dict[str, int]
    outputs: dict[str, int]
    moved: dict[str, float]
    fvcore_total: int
    ptflops_total: int
    params_total: int
    moved_total: float
    flops: FlopCount
    kinds: dict[str, list[float]] = field(default_factory=dict)


def _row_params(model: nn.Module, rows: list[str]) -> dict[str, int]:
    """Params per row, a shared parameter counted in the first row that holds it."""
    modules = dict(model.named_modules())
    seen: set[int] = set()
    out = {}
    for row in rows:
        params = [p for p in modules[row].parameters() if id(p) not in seen]
        seen.update(id(p) for p in params)
        out[row] = sum(p.numel() for p in params)
    return out


def _fvcore_kinds(analysis: Any, model: nn.Module) -> dict[str, int]:
    """fvcore's FLOPs per kind: each module's own operators (its count less its children's),
    a convolution grouped when the module that ran it has groups > 1."""
    per = analysis.by_module_and_operator()
    modules = dict(model.named_modules())
    kinds: dict[str, int] = dict.fromkeys(KINDS, 0)
    for path, ops in per.items():
        module = modules.get(path)
        if module is None:
            continue
        children = [f"{path}.{n}" if path else n for n, _ in module.named_children()]
        groups = getattr(module, "groups", 1)
        for op, count in ops.items():
            own = count - sum(per.get(c, {}).get(op, 0) for c in children)
            kinds[op_kind(op, groups if isinstance(groups, int) else 1)] += own
    return kinds


def count_rows(
    model: nn.Module, shape: list[int], rows: list[str], count_norm: bool, batch: int
) -> Counts:
    """fvcore's FLOPs, params, outputs and elements moved per row, and both counters' totals
    (`flops`, as `count_flops` gives them), from one trace per counter at batch 1 on the
    model as it is (`shape[0]` is ignored; `batch` amortises the weights)."""
    moved = BytesMoved(model, batch)
    traces = trace_flops(model, clip_for(model, [1, *shape[1:]]), count_norm, moved)
    fv = traces.analysis.by_module()
    fv_kinds = _fvcore_kinds(traces.analysis, model)
    return Counts(
        rows=rows,
        params=_row_params(model, rows),
        fvcore={r: int(fv.get(r, 0)) for r in rows},
        outputs=_per_row(model, rows, moved.outputs),
        moved=_per_row(model, rows, moved.moved),
        fvcore_total=traces.fvcore_total,
        ptflops_total=traces.ptflops_total,
        params_total=sum(p.numel() for p in model.parameters()),
        moved_total=moved.total,
        flops=traces.flop_count(),
        kinds={k: [fv_kinds[k], moved.kinds[k]] for k in KINDS},
    )


def with_outside(values: dict[str, float], total: float) -> dict[str, float]:
    """The rows and, when they leave any of the total, the rest as OUTSIDE_MODULES."""
    rest = total - sum(values.values())
    return {**values, OUTSIDE_MODULES: rest} if not math.isclose(rest, 0, abs_tol=1e-9) else values
