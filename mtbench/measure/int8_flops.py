"""The share of a network's FLOPs that ran in INT8: each audited operator's module
(mtbench.deploy.audit) weighed by fvcore's FLOPs of that module, on the float32 network.

Only modules without children are weighed (a convolution or linear layer: its FLOPs are its
operator's); an operator inside a module with children (a functional matmul in an attention
block) is not matched, and `matched_flops_share` says how much of the network the matched
modules cover.
"""

from __future__ import annotations

from torch import nn

from mtbench.measure.flops import clip_for, fvcore_analysis
from mtbench.record import Audit


def with_flop_shares(audit: Audit, model: nn.Module, shape: list[int], count_norm: bool) -> Audit:
    """`audit` with its FLOP shares filled from one fvcore trace at batch 1."""
    model.eval()
    analysis = fvcore_analysis(model, clip_for(model, [1, *shape[1:]]), count_norm)
    by_module = analysis.by_module()
    total = by_module.get("", 0)
    leaves = {name for name, m in model.named_modules() if not any(m.children())}
    int8 = set(audit["int8_modules"]) & leaves
    floats = set(audit["float_modules"]) & leaves
    if not total:
        return audit
    only_int8 = int8 - floats  # a module with an operator left in float does not count
    return {
        **audit,
        "int8_flops_share": sum(by_module.get(m, 0) for m in only_int8) / total,
        "matched_flops_share": sum(by_module.get(m, 0) for m in int8 | floats) / total,
    }
