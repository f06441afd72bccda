"""The runtimes a cell can run on, and what each cannot run with: what validation needs.

The names and the checks between them and the other options live here, beside the options,
so a suite validates without importing ONNX or OpenVINO; the engine (export once per cell,
prove the outputs equal, then time) is the package `mtbench.deploy`.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path

from mtbench.errors import did_you_mean

RUNTIMES = ("pytorch", "onnxruntime", "openvino", "tensorrt")
# `auto`: torch.onnx's dynamo exporter for ONNX Runtime and TensorRT, OpenVINO's own
# conversion of the PyTorch module for OpenVINO. `dynamo` or `torchscript` with OpenVINO make it
# read that ONNX file instead; `openvino` is OpenVINO's conversion, so OpenVINO only.
EXPORTERS = ("auto", "dynamo", "torchscript", "openvino")
# The modules each runtime imports, beside the ONNX exporter's when it writes a file.
RUNTIME_PACKAGES = {"onnxruntime": ("onnxruntime",), "openvino": ("openvino",)}
ONNX_PACKAGES = {"dynamo": ("onnx", "onnxscript"), "torchscript": ("onnx",)}
INSTALL = "pip install 'mtbench[deploy]'"
TENSORRT_INSTALL = "pip install tensorrt"
# PyTorch execution options an exported graph cannot honour.
PYTORCH_ONLY = ("compile", "cuda_graphs", "amp", "channels_last")
# Precisions each runtime runs: ONNX Runtime's CPU kernels are float32; OpenVINO lowers to
# bfloat16 through its precision hint.
# INT8 is a quantized network (mtbench.deploy.quantize): NNCF for OpenVINO, ONNX Runtime's static
# quantization, PT2E or FX graph mode for PyTorch; TensorRT's INT8 needs a CUDA device.
RUNTIME_DTYPES = {
    "onnxruntime": ("float32", "int8"),
    "openvino": ("float32", "bfloat16", "int8"),
    "tensorrt": ("float32", "float16", "int8"),
}
# The PyTorch INT8 toolchains (`quantizer`): PT2E with torchao's x86 Inductor quantizer,
# compiled, or FX graph mode with the x86 engine (which quantizes conv3d; PT2E does not).
QUANTIZERS = ("pt2e", "fx")
# The modules each INT8 toolchain imports, and the line that installs them.
QUANTIZE_PACKAGES = {
    "openvino": ("nncf",),
    "onnxruntime": ("onnxruntime",),
    "pt2e": ("torchao",),
    "fx": (),
}
# CPU flags (Linux /proc/cpuinfo) of native bfloat16 arithmetic: AVX512-BF16, AMX, Arm's BF16.
BFLOAT16_FLAGS = ("avx512_bf16", "amx_bf16", "bf16")


def cpu_flags() -> set[str]:
    """The CPU's feature flags as Linux lists them (x86 `flags`, Arm `Features`); empty
    where /proc/cpuinfo is not there."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    lines = (line.partition(":") for line in text.splitlines())
    return {
        f for key, _, value in lines if key.strip() in ("flags", "Features") for f in value.split()
    }


def cpu_has_bfloat16() -> bool:
    """Whether this CPU computes bfloat16 natively; without it OpenVINO runs float32 whatever
    the hint and PyTorch emulates bfloat16, so a bfloat16 timing would not be one."""
    return any(flag in cpu_flags() for flag in BFLOAT16_FLAGS)


def check_runtime(value: object) -> str | None:
    """None for a known runtime, else the choices with the closest one."""
    if value in RUNTIMES:
        return None
    hint = did_you_mean(value, list(RUNTIMES)) if isinstance(value, str) else ""
    return f"{value!r} is not one of {', '.join(RUNTIMES)}{hint}"


def onnx_exporter(runtime: str, exporter: str) -> str | None:
    """Which torch.onnx exporter writes the cell's file, or None when OpenVINO converts the
    PyTorch module itself."""
    if exporter == "openvino" or (runtime == "openvino" and exporter == "auto"):
        return None
    return "dynamo" if exporter == "auto" else exporter


def missing_packages(runtime: str, exporter: str) -> list[str]:
    """The Python modules the runtime and its exporter need that are not installed."""
    needed = [*RUNTIME_PACKAGES.get(runtime, ())]
    needed += ONNX_PACKAGES.get(onnx_exporter(runtime, exporter) or "", ())
    if runtime == "tensorrt":
        needed.append("tensorrt")
    return [name for name in needed if importlib.util.find_spec(name) is None]


def runtime_problems(
    runtime: str,
    exporter: str,
    dtype: str,
    device: str,
    measure: Sequence[str],
    pytorch_options: dict[str, bool],
    cuda_available: bool,
) -> list[tuple[str, str]]:
    """(key, message) for every option that the runtime cannot run; empty when it can."""
    if (why := check_runtime(runtime)) is not None:
        return [("runtime", why)]
    out = []
    if exporter not in EXPORTERS:
        hint = did_you_mean(exporter, list(EXPORTERS))
        out.append(("exporter", f"{exporter!r} is not one of {', '.join(EXPORTERS)}{hint}"))
    if runtime == "pytorch":
        if exporter != "auto":
            out.append(("exporter", f"{exporter!r} exports for a runtime; runtime is pytorch"))
        return out
    if exporter == "openvino" and runtime != "openvino":
        out.append(("exporter", f"'openvino' converts for runtime openvino, not {runtime}"))
    set_options = [name for name, value in pytorch_options.items() if value]
    if set_options:
        what = "is a PyTorch option" if len(set_options) == 1 else "are PyTorch options"
        out.append(
            (
                "runtime",
                f"{runtime} runs the exported graph: {', '.join(set_options)} {what} (leave unset)",
            )
        )
    if "latency_fwdbwd" in measure:
        out.append(("measure", f"runtime {runtime} times the forward only: drop latency_fwdbwd"))
    allowed = RUNTIME_DTYPES[runtime]
    if dtype not in allowed:
        out.append(("dtype", f"runtime {runtime} runs {' or '.join(allowed)}, not {dtype}"))
    if runtime == "tensorrt" and (device == "cpu" or not cuda_available):
        where = "this machine has none" if not cuda_available else "device is cpu"
        return [*out, ("runtime", f"tensorrt needs a CUDA device; {where}")]
    if runtime != "tensorrt" and device == "cuda":
        out.append(("device", f"runtime {runtime} is timed on the CPU here; use device cpu"))
    missing = missing_packages(runtime, exporter)
    if missing:
        command = TENSORRT_INSTALL if missing == ["tensorrt"] else INSTALL
        out.append(("runtime", f"{runtime} needs {', '.join(missing)}: {command}"))
    return out


def precision_problems(
    runtime: str, dtype: str, device: str, quantizer: str, measure: Sequence[str], cuda: bool
) -> list[tuple[str, str]]:
    """(key, message) for a precision this cell cannot run: bfloat16 on a CPU without it, an
    INT8 network with what it cannot run with or whose toolchain is not installed."""
    out = []
    on_cpu = runtime in ("onnxruntime", "openvino") or device == "cpu" or not cuda
    if dtype == "bfloat16" and on_cpu and runtime != "tensorrt" and not cpu_has_bfloat16():
        out.append(
            ("dtype", "bfloat16: this CPU has no avx512_bf16, amx_bf16 or bf16; use float32")
        )
    if dtype != "int8" or runtime == "tensorrt":
        return out
    if runtime == "pytorch" and device == "cuda":
        out.append(("device", "PyTorch's INT8 network (PT2E, FX) runs on the CPU; use device cpu"))
    if "breakdown" in measure:
        out.append(("measure", "a breakdown profiles the float32 network: not with dtype int8"))
    if runtime == "pytorch" and "latency_fwdbwd" in measure:
        out.append(("measure", "an INT8 network times the forward only: drop latency_fwdbwd"))
    toolchain = quantizer if runtime == "pytorch" else runtime
    missing = [m for m in QUANTIZE_PACKAGES[toolchain] if importlib.util.find_spec(m) is None]
    if missing:
        out.append(("dtype", f"int8 through {toolchain} needs {', '.join(missing)}: {INSTALL}"))
    return out


def default_measures(
    runtime: str, measures: Sequence[str], dtype: str = "float32"
) -> tuple[str, ...]:
    """A runtime cell's measures when the user named none: forward only (an INT8 network's
    too: it has no training step)."""
    if runtime == "pytorch" and dtype != "int8":
        return tuple(measures)
    return tuple(m for m in measures if m != "latency_fwdbwd")
