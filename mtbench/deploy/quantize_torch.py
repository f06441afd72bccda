"""PyTorch's INT8 toolchains: PT2E with torchao's x86 Inductor quantizer (compiled, with
Inductor's freezing, which lowers the quantize-dequantize patterns to INT8 kernels), and FX
graph mode with the x86 engine (deprecated in torch, but it quantizes `conv3d`, which the
x86 Inductor quantizer does not annotate: docs/deploy.md).

Each returns the quantized module, its audited compute operators, the toolchain's version and
notes for the record's settings; neither caches a file (the record's `path` is None).
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import torch
from torch import nn

from mtbench.deploy.audit import AuditedOp, fx_ops, pt2e_ops
from mtbench.deploy.export import reason


def calibrate(module: nn.Module, clips: Sequence[torch.Tensor]) -> None:
    with torch.no_grad():
        for clip in clips:
            module(clip)


def pt2e(
    model: nn.Module, clip: torch.Tensor, clips: Sequence[torch.Tensor]
) -> tuple[nn.Module, list[AuditedOp], str, dict[str, Any]]:
    """`model` exported, annotated by the x86 Inductor quantizer, calibrated on `clips`,
    converted and compiled."""
    import torchao
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e
    from torchao.quantization.pt2e.quantizer import x86_inductor_quantizer as x86

    try:
        exported = torch.export.export(model, (clip,)).module()
        quantizer = x86.X86InductorQuantizer()
        quantizer.set_global(x86.get_default_x86_inductor_quantization_config())
        prepared = prepare_pt2e(exported, quantizer)
        calibrate(prepared, clips)
        converted = convert_pt2e(prepared)
    except Exception as exc:  # the cell fails with the toolchain's own line
        raise RuntimeError(f"pt2e could not quantize the model: {reason(exc)}") from exc
    compiled, why = _lowered(converted, clip)
    ops = pt2e_ops(converted)
    if why is not None:  # the dequantized weights ran in float
        ops = [replace(op, int8=False) for op in ops]
    notes = {"freezing": why is None, **({"not_lowered": why} if why else {})}
    return compiled, ops, f"torchao {torchao.__version__}", notes


def _lowered(converted: nn.Module, clip: torch.Tensor) -> tuple[nn.Module, str | None]:
    """The converted graph compiled with Inductor's freezing, which lowers its
    quantize-dequantize patterns to INT8 kernels; where that compile fails (torch and torchao
    out of step), a copy compiled without it, and why (its operators then run in float). The
    copy is a graph of its own for dynamo: resetting dynamo instead would drop every other
    compiled network of the process, which the next call, timed in a suite's rounds, would
    compile again."""
    compiled = torch.compile(converted, options={"freezing": True})
    try:
        with torch.no_grad():
            compiled(clip)
        return compiled, None
    except Exception as exc:  # noted in the record's settings, the audit says float
        return torch.compile(copy.deepcopy(converted)), reason(exc)


def fx(
    model: nn.Module, clip: torch.Tensor, clips: Sequence[torch.Tensor]
) -> tuple[nn.Module, list[AuditedOp], str, dict[str, Any]]:
    """`model` traced by FX, prepared with the x86 engine's default mapping (per-channel INT8
    weights, UINT8 activations), calibrated on `clips` and converted."""
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    if "x86" in torch.backends.quantized.supported_engines:
        torch.backends.quantized.engine = "x86"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # FX graph mode's deprecation, once per call
            mapping = get_default_qconfig_mapping("x86")
            prepared = prepare_fx(copy.deepcopy(model).eval(), mapping, (clip,))
            calibrate(prepared, clips)
            converted = convert_fx(prepared)
    except Exception as exc:  # the cell fails with the toolchain's own line
        raise RuntimeError(f"fx could not quantize the model: {reason(exc)}") from exc
    names = [name for name, _ in model.named_modules()]
    return converted, fx_ops(converted, names), f"torch {torch.__version__}", {}
