"""The runtimes a cell can run on, and what each cannot run with: what validation needs.

The names and the checks between them and the other options live here, beside the options,
so a suite validates without importing ONNX or OpenVINO; the engine (export once per cell,
prove the outputs equal, then time) is the package `mtbench.deploy`.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence

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
RUNTIME_DTYPES = {
    "onnxruntime": ("float32",),
    "openvino": ("float32", "bfloat16"),
    "tensorrt": ("float32", "float16"),
}


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


def default_measures(runtime: str, measures: Sequence[str]) -> tuple[str, ...]:
    """A runtime cell's measures when the user named none: forward only."""
    if runtime == "pytorch":
        return tuple(measures)
    return tuple(m for m in measures if m != "latency_fwdbwd")
