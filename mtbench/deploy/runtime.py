"""A runtime other than PyTorch as the cell's executor: export (or reuse the cell's file),
open the runtime's session, prove its logits equal to PyTorch eager float32, and hand back
the session's forward as an executor's step, timed like any other by `mtbench.measure`.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from mtbench.deploy.equality import THRESHOLDS, check_equal, fixed_clip, relative_difference
from mtbench.deploy.export import Exported, convert_openvino, export_onnx
from mtbench.deploy.sessions import Session, onnxruntime_session, openvino_session
from mtbench.executor import FORWARD, Executor, batched, step
from mtbench.record import Deploy
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


def runtime_executor(
    model: nn.Module,
    shape: list[int],
    options: ProfileOptions,
    folder: Path | None,
    on_phase: Callable[[str], None] = lambda phase: None,
) -> Executor:
    """The runtime's forward over the cell's export, proven equal to PyTorch eager float32
    first; raises (the cell fails) when the export fails, the runtime refuses it, or the
    outputs differ beyond the threshold. Its `deploy` holds what the record says of it."""
    threads = options.threads or torch.get_num_threads()
    model = model.to(device="cpu", dtype=torch.float32).eval()
    clip = fixed_clip(shape)
    with torch.no_grad():
        reference = model(clip).float().numpy()
    with export_folder(folder) as where:
        on_phase("export")
        exported = exported_model(model, clip, options, where)
        on_phase(f"load into {options.runtime}")
        session = open_session(exported, options, threads)
    figure = relative_difference(reference, session.run(clip.numpy()))
    deploy: Deploy = {  # type: ignore[typeddict-item]  (the export's fields come from as_record)
        "runtime_version": session.version,
        **exported.as_record(),
        "precision": session.precision,
        "max_rel_diff": figure,
        "threshold": THRESHOLDS[options.dtype],
    }
    array = clip.numpy()
    executor = Executor(
        runtime=options.runtime,
        device=torch.device("cpu"),
        clips_per_run=shape[0],
        steps={FORWARD: step(lambda: session.run(array))},
        threads=options.threads,
        deploy=deploy,
        forward=batched(lambda clips: torch.from_numpy(session.run(clips.numpy())), shape[0]),
    )
    check_equal(figure, options.dtype)
    return executor


@contextmanager
def export_folder(folder: Path | None) -> Iterator[Path]:
    """The cell's folder, where the export is cached; a temporary one for `mtbench profile`,
    which has no store (the session holds the loaded model once it is open)."""
    if folder is not None:
        yield folder
        return
    with tempfile.TemporaryDirectory(prefix="mtbench-export-") as tmp:
        yield Path(tmp)
