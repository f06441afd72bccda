"""The model leaves PyTorch once per cell: an ONNX file, or OpenVINO's own conversion.

The result is cached in the cell's folder (`model.onnx`, or `model.xml` + `model.bin`, with
`onnx.json` / `openvino.json` describing it), so a re-run of the suite reads the file instead
of exporting again; the description is written last, so a killed export is not mistaken for a
complete one.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

ONNX_INFO, OPENVINO_INFO = "onnx.json", "openvino.json"
# Words that mark the line of an exporter's message that says what failed.
_REASON_WORDS = ("unsupported", "not supported", "no decomposition", "failed", "cannot", "error")


@dataclass
class Exported:
    """What left PyTorch: the file that holds it and what its graph contains."""

    path: str  # model.onnx or model.xml, in the cell's folder
    exporter: str  # "torch.onnx dynamo", "torch.onnx torchscript", "openvino.convert_model"
    opset: int | None  # the ONNX opset of the default domain; None for OpenVINO's own IR
    nodes: int
    operators: dict[str, int] = field(default_factory=dict)  # operator type -> count
    file_bytes: int = 0  # the graph file and its weights (.onnx.data, .bin)
    export_s: float = 0.0
    cached: bool = False  # read from an earlier run's file instead of exported now

    def as_record(self) -> dict[str, Any]:
        out = asdict(self)
        out["path"] = Path(self.path).name
        return out


def reason(exc: BaseException) -> str:
    """The exporter's or runtime's line that says what failed (an unsupported operator, the
    refused node), not the first line of a page-long message: the innermost cause's (the
    dynamo exporter wraps "No ONNX function found for <op>" in two summaries)."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    for line in reversed(lines):
        if any(word in line.lower() for word in _REASON_WORDS) and len(line) > 20:
            return line[:400]
    return (lines[0] if lines else type(exc).__name__)[:400]


def cached(folder: Path, name: str) -> Exported | None:
    """The export an earlier run left in `folder` (described by `name`), or None."""
    info = folder / name
    if not info.is_file():
        return None
    exported = Exported(**json.loads(info.read_text()))
    if not Path(exported.path).is_file():
        return None
    exported.cached = True
    return exported


def _save_info(folder: Path, name: str, exported: Exported) -> Exported:
    tmp = folder / f"{name}.tmp"
    tmp.write_text(json.dumps(asdict(exported), indent=1))
    tmp.replace(folder / name)
    return exported


def onnx_graph(path: Path) -> tuple[int | None, int, dict[str, int], int]:
    """(opset, node count, operator histogram, bytes with external data) of an ONNX file,
    after onnx's full check (timm's onnx_export does the same)."""
    import onnx

    onnx.checker.check_model(str(path), full_check=True)
    proto = onnx.load(str(path), load_external_data=False)
    opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), None)
    ops = Counter(f"{n.domain}::{n.op_type}" if n.domain else n.op_type for n in proto.graph.node)
    data = {
        d.value for t in proto.graph.initializer for d in t.external_data if d.key == "location"
    }
    size = path.stat().st_size + sum((path.parent / name).stat().st_size for name in data)
    return opset, len(proto.graph.node), dict(ops.most_common()), size


def export_onnx(model: nn.Module, clip: torch.Tensor, folder: Path, exporter: str) -> Exported:
    """`model` (eval mode) as `folder/model.onnx`, by torch.onnx's `dynamo` or `torchscript`
    exporter, at the clip's static shape; reused when an earlier run left it."""
    if (earlier := cached(folder, ONNX_INFO)) is not None:
        return earlier
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "model.onnx"
    tmp = folder / "model.tmp.onnx"
    start = time.perf_counter()
    try:
        if exporter == "dynamo":
            program = torch.onnx.export(model, (clip,), dynamo=True, verbose=False)
            program.save(str(tmp))
        else:
            torch.onnx.export(model, (clip,), str(tmp), dynamo=False, input_names=["clip"])
    except Exception as exc:  # the cell fails with the exporter's own line
        raise RuntimeError(f"export ({exporter}) failed: {reason(exc)}") from exc
    seconds = time.perf_counter() - start
    tmp.replace(path)
    opset, nodes, operators, size = onnx_graph(path)
    exported = Exported(str(path), f"torch.onnx {exporter}", opset, nodes, operators, size, seconds)
    return _save_info(folder, ONNX_INFO, exported)


def convert_openvino(
    model: nn.Module, clip: torch.Tensor, folder: Path, onnx_from: str | None
) -> Exported:
    """The model in OpenVINO's IR (`folder/model.xml`): converted from the PyTorch module, or
    read from the ONNX file that `onnx_from` exports; reused when an earlier run left it."""
    import openvino as ov

    if (earlier := cached(folder, OPENVINO_INFO)) is not None:
        return earlier
    start = time.perf_counter()
    source = export_onnx(model, clip, folder, onnx_from) if onnx_from else None
    try:
        if source is not None:
            converted = ov.convert_model(source.path)
        else:
            converted = ov.convert_model(model, example_input=clip)
    except Exception as exc:  # OpenVINO refusing the graph, e.g. ScatterND's rank
        raise RuntimeError(f"openvino refused the model: {reason(exc)}") from exc
    seconds = time.perf_counter() - start
    xml = folder / "model.xml"
    folder.mkdir(parents=True, exist_ok=True)
    ov.save_model(converted, str(xml), compress_to_fp16=False)
    if source is not None:  # the graph that was exported is the ONNX file's
        exported = Exported(
            str(xml),
            f"{source.exporter} -> openvino",
            source.opset,
            source.nodes,
            source.operators,
            source.file_bytes,
            seconds,
        )
    else:
        ops = Counter(op.get_type_name() for op in converted.get_ordered_ops())
        size = xml.stat().st_size + xml.with_suffix(".bin").stat().st_size
        exported = Exported(
            str(xml),
            "openvino.convert_model",
            None,
            sum(ops.values()),
            dict(ops.most_common()),
            size,
            seconds,
        )
    return _save_info(folder, OPENVINO_INFO, exported)
