"""A quantized (INT8) network as the cell's executor: calibrate, quantize once per cell (the
file cached beside the exported one), audit which operators ran in INT8, measure how far its
logits moved from the float32 network's, and hand back its forward, timed by
`mtbench.measure` like any other executor. It never times.

Toolchains: OpenVINO through NNCF's post-training quantization (`nncf.quantize`, the
performance preset: symmetric INT8 weights per channel and activations); ONNX Runtime's static
quantization (`quant_pre_process`, then `quantize_static` in QDQ format, per-channel INT8
weights, UINT8 activations, MinMax calibration); PyTorch's PT2E or FX graph mode
(`mtbench.deploy.quantize_torch`). A cell without [data] calibrates on random clips and says
so; a suite cell with [data] hands in its own clips (`mtbench.suite.quantized`).
"""

from __future__ import annotations

import contextlib
import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from mtbench.deploy import audit, quantize_torch
from mtbench.deploy.equality import fixed_clip, relative_difference
from mtbench.deploy.export import convert_openvino, export_onnx, reason
from mtbench.deploy.runtime import export_folder
from mtbench.deploy.sessions import onnxruntime_session, openvino_session
from mtbench.executor import FORWARD, Executor, batched, step
from mtbench.record import Fidelity, Quantization
from mtbench.runtimes import onnx_exporter

if TYPE_CHECKING:
    from mtbench.options import ProfileOptions

CALIBRATION_SEED = 0
FIDELITY_SEED = 4321
FIDELITY_RUNS = 16  # random batches the top-1 agreement is counted over
NOT_AN_ACCURACY = "not an accuracy: logits against float32 on random clips"


@dataclass
class Calibration:
    """The batches (each of the cell's clip shape) a quantizer calibrates on, and where they
    came from, in words, for the record."""

    clips: list[torch.Tensor]
    source: str


def random_calibration(shape: list[int], count: int, seed: int = CALIBRATION_SEED) -> Calibration:
    """`count` standard-normal clips in batches of the cell's shape, from a fixed seed."""
    generator = torch.Generator().manual_seed(seed)
    batches = max(1, math.ceil(count / shape[0]))
    clips = [torch.randn(shape, generator=generator) for _ in range(batches)]
    return Calibration(clips, f"random clips (seed {seed}): no [data]")


@dataclass
class QuantizedNet:
    """What a toolchain made: the timed call on the fixed clip, the network as a function of
    a batch of the cell's shape, and what the record says of it."""

    timed: Callable[[], object]
    run: Callable[[torch.Tensor], torch.Tensor]
    toolchain: str
    version: str
    settings: dict[str, Any]
    ops: list[audit.AuditedOp]
    source: str  # what the audit read
    match: str  # how its operators were matched to modules
    path: str | None = None
    cached: bool = False
    quantize_s: float = 0.0


def tamper(toolchain: str, quantized: Any) -> None:
    """A test hook, called on each freshly quantized network (an `ov.Model`, the QDQ file's
    path, a PyTorch module) before it is saved or run: nothing here. Tests replace it to break
    a quantization on purpose (a scale set to zero) and see the gate fail."""


def _cached_info(folder: Path, name: str, settings: dict[str, Any]) -> dict[str, Any] | None:
    """An earlier run's quantization of the same settings, if its file is still there."""
    info = folder / name
    if not info.is_file():
        return None
    found = json.loads(info.read_text())
    if found.get("settings") != settings or not (folder / found["path"]).is_file():
        return None
    return found


def _save_info(folder: Path, name: str, info: dict[str, Any]) -> None:
    tmp = folder / f"{name}.tmp"
    tmp.write_text(json.dumps(info, indent=1))
    tmp.replace(folder / name)


def _openvino(
    model: nn.Module, clip: torch.Tensor, options: ProfileOptions, folder: Path, cal: Calibration
) -> QuantizedNet:
    import nncf
    import openvino as ov

    settings = {
        "calibration": cal.source,
        "calibration_clips": len(cal.clips) * clip.shape[0],
        "subset_size": len(cal.clips),
        "preset": "performance",
        "per_channel": True,
        "weights": "int8 symmetric",
        "activations": "int8 symmetric (u8 after ReLU)",
        "openvino": ov.__version__.split("-")[0],
    }
    name, path = "openvino.int8.json", folder / "model.int8.xml"
    info = _cached_info(folder, name, settings)
    cached = info is not None
    if info is None:
        via_onnx = onnx_exporter("openvino", options.exporter)
        exported = convert_openvino(model, clip, folder, via_onnx)
        start = time.perf_counter()
        data = nncf.Dataset([c.numpy() for c in cal.clips])
        preset = nncf.QuantizationPreset.PERFORMANCE
        try:  # NNCF draws its progress on stdout, which `profile --json` keeps for the record
            with contextlib.redirect_stdout(sys.stderr):
                quantized = nncf.quantize(
                    ov.Core().read_model(exported.path),
                    data,
                    preset=preset,
                    subset_size=len(cal.clips),
                )
        except Exception as exc:  # the toolchain's own line
            raise RuntimeError(f"nncf could not quantize the model: {reason(exc)}") from exc
        tamper("openvino", quantized)
        ov.save_model(quantized, str(path), compress_to_fp16=False)
        info = {"path": path.name, "settings": settings, "quantize_s": time.perf_counter() - start}
        info["version"] = nncf.__version__
        _save_info(folder, name, info)
    session = openvino_session(str(path), _threads(options), "float32")
    called = audit.called_weights(model, clip)
    ops = audit.openvino_ops(ov.Core().read_model(str(path)), session.handle, called)
    net = _session_net(session.run, clip, "nncf", info, ops, cached, "openvino runtime model")
    net.match = "the IR's compute operators in graph order to modules by weight size"
    return net


def _onnxruntime(
    model: nn.Module, clip: torch.Tensor, options: ProfileOptions, folder: Path, cal: Calibration
) -> QuantizedNet:
    import onnx
    import onnxruntime
    from onnxruntime import quantization as q
    from onnxruntime.quantization.shape_inference import quant_pre_process

    settings = {
        "calibration": cal.source,
        "calibration_clips": len(cal.clips) * clip.shape[0],
        "subset_size": len(cal.clips),
        "format": "QDQ",
        "calibrate_method": "MinMax",
        "per_channel": True,
        "weights": "int8",
        "activations": "uint8",
        "pre_process": True,
    }
    name, path = "onnx.int8.json", folder / "model.int8.onnx"
    info = _cached_info(folder, name, settings)
    cached = info is not None
    if info is None:
        exported = export_onnx(model, clip, folder, onnx_exporter("onnxruntime", options.exporter))
        start = time.perf_counter()
        pre = folder / "model.pre.onnx"
        try:
            quant_pre_process(exported.path, str(pre))
            input_name = onnx.load(str(pre), load_external_data=False).graph.input[0].name
            feeds = iter([{input_name: c.numpy()} for c in cal.clips])

            class Reader(q.CalibrationDataReader):
                def get_next(self) -> dict[str, np.ndarray] | None:
                    return next(feeds, None)

            q.quantize_static(
                str(pre),
                str(path),
                Reader(),
                quant_format=q.QuantFormat.QDQ,
                per_channel=True,
                weight_type=q.QuantType.QInt8,
                activation_type=q.QuantType.QUInt8,
                calibrate_method=q.CalibrationMethod.MinMax,
            )
        except Exception as exc:  # the toolchain's own line
            why = f"onnxruntime could not quantize the model: {reason(exc)}"
            raise RuntimeError(why) from exc
        tamper("onnxruntime", path)
        info = {"path": path.name, "settings": settings, "quantize_s": time.perf_counter() - start}
        info["version"] = onnxruntime.__version__
        _save_info(folder, name, info)
    session = onnxruntime_session(str(path), _threads(options))
    ops = audit.onnx_ops(str(path), audit.called_weights(model, clip))
    toolchain = "onnxruntime.quantization"
    return _session_net(session.run, clip, toolchain, info, ops, cached, "onnx qdq graph")


def _session_net(
    run: Callable[[np.ndarray], np.ndarray],
    clip: torch.Tensor,
    toolchain: str,
    info: dict[str, Any],
    ops: list[audit.AuditedOp],
    cached: bool,
    source: str,
) -> QuantizedNet:
    """A runtime session's network: the fixed clip kept as the array it runs on."""
    array = clip.numpy()
    return QuantizedNet(
        timed=lambda: run(array),
        run=lambda x: torch.from_numpy(np.asarray(run(x.numpy()))),
        toolchain=toolchain,
        version=info["version"],
        settings=info["settings"],
        ops=ops,
        source=source,
        match="module of each operator's weight, read from the graph's names",
        path=info["path"],
        cached=cached,
        quantize_s=info["quantize_s"],
    )


def _pytorch(
    model: nn.Module, clip: torch.Tensor, options: ProfileOptions, cal: Calibration
) -> QuantizedNet:
    make = quantize_torch.pt2e if options.quantizer == "pt2e" else quantize_torch.fx
    start = time.perf_counter()
    module, ops, version, notes = make(model, clip, cal.clips)
    tamper(options.quantizer, module)
    seconds = time.perf_counter() - start
    settings = {
        "calibration": cal.source,
        "calibration_clips": len(cal.clips) * clip.shape[0],
        "subset_size": len(cal.clips),
        "per_channel": True,
        "weights": "int8 symmetric",
        "activations": "uint8 affine",
        "compiled": options.quantizer == "pt2e",
        **notes,
    }
    if options.quantizer == "fx":
        settings["engine"] = torch.backends.quantized.engine

    def run(x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return module(x)

    toolchain = "torchao pt2e (x86 inductor)" if options.quantizer == "pt2e" else "torch.ao fx"
    source = "pt2e converted graph" if options.quantizer == "pt2e" else "fx graph module"
    match = "nn_module_stack" if options.quantizer == "pt2e" else "quantized module paths"
    return QuantizedNet(
        lambda: run(clip), run, toolchain, version, settings, ops, source, match, quantize_s=seconds
    )


def _threads(options: ProfileOptions) -> int:
    return options.threads or torch.get_num_threads()


def quantize(
    model: nn.Module, clip: torch.Tensor, options: ProfileOptions, folder: Path, cal: Calibration
) -> QuantizedNet:
    """The cell's network quantized by its runtime's toolchain."""
    if options.runtime == "openvino":
        return _openvino(model, clip, options, folder, cal)
    if options.runtime == "onnxruntime":
        return _onnxruntime(model, clip, options, folder, cal)
    if options.runtime == "pytorch":
        return _pytorch(model, clip, options, cal)
    raise RuntimeError(f"int8 on {options.runtime}: this mtbench quantizes on the CPU only")


def fidelity(
    model: nn.Module, run: Callable[[torch.Tensor], torch.Tensor], shape: list[int]
) -> Fidelity:
    """How far the quantized logits moved from float32's: on the fixed clip (max |diff| over
    max |logit|) and in top class over random batches. Not an accuracy."""
    clip = fixed_clip(shape)
    generator = torch.Generator().manual_seed(FIDELITY_SEED)
    agree = 0
    with torch.no_grad():
        figure = relative_difference(model(clip).float().numpy(), run(clip).float().numpy())
        for _ in range(FIDELITY_RUNS):
            x = torch.randn(shape, generator=generator)
            agree += int((model(x).argmax(1) == run(x).argmax(1)).sum())
    clips = FIDELITY_RUNS * shape[0]
    return Fidelity(
        label=NOT_AN_ACCURACY, max_rel_diff=figure, top1_agreement=agree / clips, clips=clips
    )


def quantized_executor(
    model: nn.Module,
    shape: list[int],
    options: ProfileOptions,
    folder: Path | None,
    calibration: Calibration | None = None,
    on_phase: Callable[[str], None] = lambda phase: None,
) -> Executor:
    """The cell's INT8 network as an executor: its forward on the fixed clip (timed by
    `mtbench.measure`), `forward` for the accuracy gate, `quantization` for the record."""
    model = model.to(device="cpu", dtype=torch.float32).eval()
    clip = fixed_clip(shape)
    calibration = calibration or random_calibration(shape, options.calibration_clips)
    with export_folder(folder) as where:
        on_phase(f"quantize ({options.runtime})")
        net = quantize(model, clip, options, where, calibration)
    on_phase("fidelity")
    part = Quantization(
        toolchain=net.toolchain,
        version=net.version,
        settings=net.settings,
        path=net.path,
        cached=net.cached,
        quantize_s=net.quantize_s,
        fidelity=fidelity(model, net.run, shape),
        audit=audit.summary(net.ops, net.source, net.match),  # type: ignore[typeddict-item]
        gate=None,
    )
    return Executor(
        runtime=options.runtime,
        device=torch.device("cpu"),
        clips_per_run=shape[0],
        steps={FORWARD: step(net.timed)},
        threads=options.threads,
        quantization=part,
        forward=batched(net.run, shape[0]),
    )
