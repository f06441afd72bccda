"""A runtime's session over an exported model: clip in (numpy, float32), logits out.

Threads: ONNX Runtime's intra-op pool and OpenVINO's inference threads are the cell's
`threads`, one stream, with ONNX Runtime's spin-waiting off and OpenVINO's thread pinning off,
so that a runtime does not keep cores busy between calls and two runtimes timed in turn do not
fight over the cores.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from mtbench.deploy.export import reason

# OpenVINO's precision hint per cell dtype: f32 unless the cell asks for lower. Without the
# hint OpenVINO runs bfloat16 on CPUs that have it (AVX-512 BF16, AMX), 2e-4 to 6e-3 off.
OPENVINO_PRECISION = {"float32": "f32", "bfloat16": "bf16", "float16": "f16"}
DTYPE_NAMES = {hint: dtype for dtype, hint in OPENVINO_PRECISION.items()}


@dataclass
class Session:
    """A loaded model ready to run, with what the record says about it."""

    run: Callable[[np.ndarray], np.ndarray]
    runtime: str
    version: str
    precision: str  # what the runtime computes in, as it reports it (float32, bfloat16, ...)
    handle: Any = None  # the runtime's own object (InferenceSession, CompiledModel): the audit's


def onnxruntime_session(path: str, threads: int) -> Session:
    """ONNX Runtime on the CPU, all graph optimisations on, `threads` intra-op threads."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    try:
        session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # the runtime refusing the file
        raise RuntimeError(f"onnxruntime refused the model: {reason(exc)}") from exc
    name = session.get_inputs()[0].name

    def run(clip: np.ndarray) -> np.ndarray:
        return session.run(None, {name: clip})[0]

    return Session(run, "onnxruntime", ort.__version__, "float32", session)


def openvino_session(path: str, threads: int, dtype: str) -> Session:
    """OpenVINO on the CPU at the cell's precision (f32 by default), latency mode, one
    stream of `threads` threads."""
    import openvino as ov

    core = ov.Core()
    config = {
        "INFERENCE_PRECISION_HINT": OPENVINO_PRECISION[dtype],
        "INFERENCE_NUM_THREADS": threads,
        "NUM_STREAMS": 1,
        "PERFORMANCE_HINT": "LATENCY",
        "ENABLE_CPU_PINNING": False,
    }
    try:
        compiled = core.compile_model(core.read_model(path), "CPU", config)
    except Exception as exc:  # the runtime refusing the model
        raise RuntimeError(f"openvino refused the model: {reason(exc)}") from exc
    request = compiled.create_infer_request()
    output = compiled.output(0)

    def run(clip: np.ndarray) -> np.ndarray:
        return request.infer({0: clip})[output]

    precision = DTYPE_NAMES.get(compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name())
    return Session(run, "openvino", ov.__version__.split("-")[0], precision, compiled)
