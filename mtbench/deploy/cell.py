"""One cell under a runtime other than PyTorch: export (or reuse the cell's file), open the
runtime's session, prove its logits equal to PyTorch eager float32, then time its forward with
the same timer as PyTorch cells.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from mtbench.deploy.equality import THRESHOLDS, check_equal, fixed_clip, relative_difference
from mtbench.deploy.export import Exported, convert_openvino, export_onnx
from mtbench.deploy.sessions import Session, onnxruntime_session, openvino_session
from mtbench.measure.latency import CpuTimer, time_runs
from mtbench.measure.memory import PeakMemory
from mtbench.runtimes import onnx_exporter

if TYPE_CHECKING:
    from mtbench.options import ProfileOptions


def exported_model(
    model: nn.Module, clip: torch.Tensor, options: ProfileOptions, folder: Path
) -> Exported:
    """The cell's exported file, made now or read from an earlier run's."""
    via_onnx = onnx_exporter(options.runtime, options.exporter)
    if options.runtime == "openvino":
        return convert_openvino(model, clip, folder, via_onnx)
    if options.runtime == "tensorrt":
        raise RuntimeError("tensorrt: this mtbench does not build TensorRT engines yet")
    return export_onnx(model, clip, folder, via_onnx)


def open_session(exported: Exported, options: ProfileOptions, threads: int) -> Session:
    """The cell's runtime over the exported file, at the cell's threads and precision."""
    if options.runtime == "openvino":
        return openvino_session(exported.path, threads, options.dtype)
    return onnxruntime_session(exported.path, threads)


def measure_deployed(
    model: nn.Module,
    shape: list[int],
    options: ProfileOptions,
    record: dict[str, Any],
    folder: Path,
    on_phase: Callable[[str], None],
) -> None:
    """Fill the record's `deploy` figures and forward latency; raises (the cell fails) when
    the export fails, the runtime refuses it, or the outputs differ beyond the threshold."""
    model = model.to(device="cpu", dtype=torch.float32).eval()
    clip = fixed_clip(shape)
    with torch.no_grad():
        reference = model(clip).float().numpy()
    on_phase("export")
    exported = exported_model(model, clip, options, folder)
    on_phase(f"load into {options.runtime}")
    session = open_session(exported, options, record["threads"])
    figure = relative_difference(reference, session.run(clip.numpy()))
    record["deploy"] = {
        "runtime_version": session.version,
        **exported.as_record(),
        "precision": session.precision,
        "max_rel_diff": figure,
        "threshold": THRESHOLDS[options.dtype],
    }
    check_equal(figure, options.dtype)
    if "latency_fwd" not in options.measure and "memory" not in options.measure:
        return
    on_phase("latency_fwd")
    x = clip.numpy()
    with PeakMemory(torch.device("cpu")) as memory:
        stats = time_runs(
            lambda: session.run(x),
            warmup=options.warmup,
            repeats=options.repeats,
            timer=CpuTimer(),
            clips_per_run=shape[0],
        )
    if "latency_fwd" in options.measure:
        record["latency_fwd_ms"] = stats.as_dict()
    if "memory" in options.measure:
        record["peak_mem_mb"] = memory.peak_mb


@contextmanager
def export_folder(folder: Path | None) -> Iterator[Path]:
    """The cell's folder, where the export is cached; a temporary one for `mtbench profile`,
    which has no store."""
    if folder is not None:
        yield folder
        return
    with tempfile.TemporaryDirectory(prefix="mtbench-export-") as tmp:
        yield Path(tmp)
