"""The accuracy gate of an INT8 cell with [data] (issue 37): calibration from the cell's own
training clips, deterministic for a seed; the gate's numbers equal an evaluation by hand on
the same clips; a quantization broken on purpose fails its gate and is still timed; a gate
without data and an input that is not the data's clip are one line at validation.

One tiny training suite (the test-only tiny3d on synthetic motion clips, ONNX Runtime's
static quantization, about a minute on two cores) runs once per module.
"""

import copy
import csv
import io
import shutil
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from conftest import assert_one_line_error

from mtbench.data import build_dataset
from mtbench.deploy import quantize
from mtbench.deploy.quantize import quantized_executor
from mtbench.registry import create_model
from mtbench.runtimes import cpu_has_bfloat16
from mtbench.suite.grid import load_suite
from mtbench.suite.quantized import calibration_clips
from mtbench.suite.store import read_records

# One worker trains the module-scoped network once for all of them (tests/serial_last.py).
pytestmark = pytest.mark.xdist_group("quantize-gate")

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
sys.path.insert(0, str(Path(__file__).parent))
import tiny_models  # noqa: E402,F401  (registers test-tiny3d)

DATA = """
[data]
dataset = "synthetic"
num_classes = 4
videos_per_class = 24
test_videos_per_class = 8
source_frames = 24
source_size = [40, 40]
frames = 8
interval = 2
resize = [16, 18]
crop = 16
workers = 0
"""
SUITE = (
    """
[suite]
name = "int8-gate"
[defaults]
device = "cpu"
threads = 1
warmup = 0
repeats = 1
measure = ["latency_fwd"]
calibration_clips = 8
"""
    + DATA
    + """
[train]
epochs = 6
batch_size = 16
lr = 0.05
schedule = "cosine"
[eval]
clips = 2
crops = 1
batch_size = 16
[[models]]
name = "test-tiny3d"
dtype = "int8"
runtime = "onnxruntime"
require_accuracy = 0.99
"""
)


def run(path: Path, out: Path, *more: str) -> None:
    from mtbench.cli import main

    try:
        main(["run", str(path), "--output", str(out), *more])
    except SystemExit as exc:
        assert exc.code in (0, None), exc.code


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(suite file, store, the cell, its record)."""
    folder = tmp_path_factory.mktemp("gate")
    path = folder / "gate.toml"
    path.write_text(SUITE)
    out = folder / "out"
    run(path, out)
    (cell,) = load_suite(path)[1]
    (record,) = read_records(out)
    assert record["status"] == "ok", record["error"]
    return path, out, cell, record


def by_hand(network, cell) -> tuple[list[int], list[int]]:
    """(predicted, true) class of every test video: softmax of each view, averaged."""
    data = cell.workload.data_config()
    test = build_dataset(data, "test", train=False, seed=0, clips=2, crops=1)
    predicted, labels = [], []
    with torch.no_grad():
        for i in range(len(test)):
            item = test[i]
            probs = network(item["video"]).softmax(dim=1).mean(dim=0)
            predicted.append(int(probs.argmax()))
            labels.append(int(item["label"]))
    return predicted, labels


def top1(predicted: list[int], labels: list[int]) -> float:
    return 100.0 * sum(p == t for p, t in zip(predicted, labels, strict=True)) / len(labels)


@pytest.mark.slow
def test_the_gate_equals_an_evaluation_by_hand_on_the_same_clips(trained):
    _, out, cell, record = trained
    gate = record["gate"]
    folder = out / "cells" / cell.key
    model = create_model("test-tiny3d", num_classes=4)
    model.load_state_dict(torch.load(folder / "last.pt", weights_only=False)["model"])
    model.eval()
    executor = quantized_executor(
        model, cell.input_shape, cell.options, folder, calibration_clips(cell)
    )
    assert executor.quantization["cached"] is True
    float_pred, labels = by_hand(model, cell)
    int8_pred, _ = by_hand(executor.forward, cell)
    assert gate["float32"]["top1"] == pytest.approx(top1(float_pred, labels))
    assert gate["float32"]["top1"] == pytest.approx(record["top1"])  # the trainer's evaluation
    assert gate["as_run"]["top1"] == pytest.approx(top1(int8_pred, labels))
    agree = sum(a == b for a, b in zip(float_pred, int8_pred, strict=True)) / len(labels)
    assert gate["top1_agreement"] == pytest.approx(agree)
    assert gate["videos"] == len(labels) == 32 and gate["views"] == "2x1"
    ratio = gate["as_run"]["top1"] / gate["float32"]["top1"]
    assert gate["ratio"] == pytest.approx(ratio)
    assert gate["targets"] == {"99%": ratio >= 0.99, "99.9%": ratio >= 0.999}
    assert gate["verdict"] == ("pass" if ratio >= 0.99 else "fail") and gate["required"] == 0.99
    assert record["top1"] > 25  # trained above chance, so a broken network can fall below


@pytest.mark.slow
def test_calibration_is_the_cells_training_clips_deterministic_for_a_seed(trained):
    _, _, cell, record = trained
    first, again = calibration_clips(cell), calibration_clips(cell)
    assert len(first.clips) == 8 and first.clips[0].shape == (1, 3, 8, 16, 16)
    assert all(torch.equal(a, b) for a, b in zip(first.clips, again.clips, strict=True))
    assert record["quantization"]["settings"]["calibration"] == first.source
    assert "training clips of synthetic (seed 0" in first.source
    other = replace(cell, workload=replace(cell.workload, train={**cell.workload.train, "seed": 1}))
    moved = calibration_clips(other)
    assert not all(torch.equal(a, b) for a, b in zip(first.clips, moved.clips, strict=True))


def zero_first_weight_scale(toolchain: str, path) -> None:
    """The broken quantization: the first convolution's weight scale set to zero."""
    from onnx import numpy_helper

    model = onnx.load(str(path))
    graph = model.graph
    producer = {o: n for n in graph.node for o in n.output}
    conv = next(n for n in graph.node if n.op_type == "Conv")
    scale_name = producer[conv.input[1]].input[1]
    scale = next(t for t in graph.initializer if t.name == scale_name)
    scale.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(scale) * 0, scale_name))
    onnx.save(model, str(path))


@pytest.mark.slow
def test_a_broken_quantization_fails_its_gate_and_is_still_timed(trained, tmp_path, monkeypatch):
    path, out, cell, _ = trained
    broken = tmp_path / "out"
    shutil.copytree(out, broken)
    for cached in (broken / "cells" / cell.key).glob("*int8*"):
        cached.unlink()  # quantized again, through the hook
    monkeypatch.setattr(quantize, "tamper", zero_first_weight_scale)
    run(path, broken, "--force")
    record = read_records(broken)[-1]
    assert record["status"] == "ok"
    gate = record["gate"]
    assert gate["verdict"] == "fail" and gate["ratio"] < 0.99
    assert record["latency_fwd_ms"]["repeats"] == 1


def test_a_gate_without_data_is_one_line(tmp_path, cli_inproc):
    path = tmp_path / "s.toml"
    path.write_text(
        '[suite]\nname = "s"\n[[models]]\nname = "r3d-18"\ndtype = "int8"\n'
        'runtime = "onnxruntime"\nrequire_accuracy = 0.99\n'
    )
    result = cli_inproc("run", str(path), "--dry-run")
    assert_one_line_error(result, "models[0].require_accuracy", "a gate needs [data]")
    result = cli_inproc("profile", "r3d-18", "--dtype", "int8", "--require-accuracy", "0.99")
    assert_one_line_error(result, "--require-accuracy", "[data]")


def test_an_int8_cell_with_data_runs_the_datas_clip(tmp_path, cli_inproc):
    path = tmp_path / "s.toml"
    path.write_text(
        '[suite]\nname = "s"\n[defaults]\ninput = [1, 3, 4, 32, 32]\n'
        + DATA
        + '[[models]]\nname = "test-tiny3d"\ndtype = "int8"\nruntime = "onnxruntime"\n'
    )
    result = cli_inproc("run", str(path), "--dry-run")
    assert_one_line_error(result, "defaults.input", "8x16x16", "4x32x32")


def test_require_accuracy_is_a_fraction(cli_inproc, tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(
        '[suite]\nname = "s"\n[[models]]\nname = "r3d-18"\ndtype = "int8"\nrequire_accuracy = 99\n'
    )
    assert_one_line_error(cli_inproc("run", str(path), "--dry-run"), "require_accuracy", "(0, 1]")


@pytest.mark.slow
def test_the_table_shows_the_audit_and_the_gate(trained, cli_inproc):
    _, out, _, record = trained
    result = cli_inproc("table", str(out), "--format", "csv")
    assert result.returncode == 0, result.stderr
    (cells,) = list(csv.DictReader(io.StringIO(result.stdout)))
    audit = record["quantization"]["audit"]
    assert audit["int8_ops"] == 3  # tiny3d's two convolutions and its head, counted by module
    assert cells["INT8 ops"] == "3 of 3" and cells["Gate"] == record["gate"]["verdict"]
    assert float(cells["INT8 FLOPs (%)"]) == pytest.approx(100 * audit["int8_flops_share"])


@pytest.mark.slow
def test_an_int8_cell_measures_its_float32_siblings_trained_network(tmp_path):
    body = SUITE.replace("epochs = 6", "epochs = 2").replace("require_accuracy = 0.99\n", "")
    body = body.replace(
        '[[models]]\nname = "test-tiny3d"\n',
        '[[models]]\nname = "test-tiny3d"\n\n[[models]]\nname = "test-tiny3d"\n',
        1,
    )
    path = tmp_path / "s.toml"
    path.write_text(body)
    run(path, tmp_path / "out")
    plain, int8 = load_suite(path)[1]
    records = {r["cell_key"]: r for r in read_records(tmp_path / "out")}
    trained, measured = records[plain.key], records[int8.key]
    assert measured["status"] == "ok", measured["error"]
    assert measured["train_curve"] == trained["train_curve"]
    assert measured["checkpoint"] == trained["checkpoint"]
    assert not (tmp_path / "out" / "cells" / int8.key / "last.pt").exists()  # not trained again
    assert measured["gate"]["float32"]["top1"] == pytest.approx(trained["top1"])
    # The figure: one arrow from the float32 point to the INT8 point, in the runtime's panel.
    from mtbench.report.frame import records_frame
    from mtbench.report.quantized_plots import accuracy_vs_latency_int8

    ax = accuracy_vs_latency_int8(records_frame(read_records(tmp_path / "out"))).axes[0]
    arrow, label = ax.texts
    gate = measured["gate"]
    assert arrow.xy == (measured["latency_fwd_ms"]["median"], gate["as_run"]["top1"])
    assert arrow.xyann == (trained["latency_fwd_ms"]["median"], trained["top1"])
    assert ax.get_title() == "onnxruntime" and label.get_text() == "ort"
    # Re-timed, the INT8 cell measures its sibling's network again (it has no checkpoint).
    from mtbench.suite.store import write_records

    stored = read_records(tmp_path / "out")
    for record in stored:
        if record["cell_key"] == int8.key:
            record["latency_fwd_ms"].update(verdict="disturbed", reasons=["busy"])
    write_records(tmp_path / "out", stored)
    run(path, tmp_path / "out", "--retime-disturbed")
    again = read_records(tmp_path / "out")[-1]
    assert again["cell_key"] == int8.key and again["status"] == "ok", again["error"]
    assert again["gate"] == measured["gate"] and again["top1"] == trained["top1"]


@pytest.mark.slow
@pytest.mark.skipif(not cpu_has_bfloat16(), reason="this CPU has no bfloat16 instructions")
def test_a_bfloat16_cell_is_gated_like_an_int8_one(tmp_path):
    """The float32 cell's trained network cast to bfloat16 (PyTorch) and run by OpenVINO in
    bfloat16: each cell's gate equals an evaluation by hand of that network, a clip at a time
    as the cell's executor runs it."""
    from mtbench.deploy.runtime import runtime_executor

    float32, bf16 = '[[models]]\nname = "test-tiny3d"\n', 'dtype = "bfloat16"\n'
    body = SUITE.replace('dtype = "int8"\nruntime = "onnxruntime"\n', bf16)
    body = body.replace(float32, float32 + "\n" + float32 + 'runtime = ["pytorch", "openvino"]\n')
    path, store = tmp_path / "bf16.toml", tmp_path / "out"
    path.write_text(body)
    run(path, store)
    cells = {(c.options.runtime, c.options.dtype): c for c in load_suite(path)[1]}
    records = {r["cell_key"]: r for r in read_records(store)}
    plain = cells["pytorch", "float32"]
    model = create_model("test-tiny3d", num_classes=4)
    model.load_state_dict(torch.load(store / "cells" / plain.key / "last.pt")["model"])
    model.eval()
    float_pred, labels = by_hand(model, plain)
    for runtime in ("pytorch", "openvino"):
        cell = cells[runtime, "bfloat16"]
        record = records[cell.key]
        assert record["status"] == "ok", record["error"]
        assert (
            record["quantization"] is None
            and record["train_curve"] == records[plain.key]["train_curve"]
        )
        gate = record["gate"]
        assert gate is not None, record["gate_error"]
        if runtime == "pytorch":
            cast = copy.deepcopy(model).to(torch.bfloat16)
            as_run = lambda v, n=cast: torch.cat([n(c[None].bfloat16()).float() for c in v])  # noqa: E731
        else:
            folder = store / "cells" / cell.key  # the cell's export, read back
            as_run = runtime_executor(model, cell.input_shape, cell.options, folder).forward
        predicted, _ = by_hand(as_run, plain)
        assert gate["float32"]["top1"] == pytest.approx(top1(float_pred, labels))
        assert gate["float32"]["top1"] == pytest.approx(records[plain.key]["top1"])
        assert gate["as_run"]["top1"] == pytest.approx(top1(predicted, labels))
        agree = sum(a == b for a, b in zip(float_pred, predicted, strict=True)) / len(labels)
        assert gate["top1_agreement"] == pytest.approx(agree)
        assert gate["required"] == 0.99 and gate["verdict"] in ("pass", "fail")


@pytest.mark.slow
def test_trained_precision_cells_are_timed_in_rounds_with_their_float32_network(
    tmp_path, rounds_timed
):
    """`interleave = true` on a trained suite: the float32 PyTorch cell trains (and is timed)
    alone, then its network, its ONNX Runtime float32 cell and its INT8 cell (gated first)
    are timed in rounds, repeat k of each in round k; each record says `interleaved`, the
    float32 one keeps its training part, and the run counts three cells."""
    from mtbench.suite.runner import run_suite
    from mtbench.suite.schema import parse_suite

    body = SUITE.replace("epochs = 6", "epochs = 2").replace("repeats = 1", "repeats = 3")
    body = body.replace("calibration_clips = 8\n", "calibration_clips = 8\ninterleave = true\n")
    body = body.replace(
        '[[models]]\nname = "test-tiny3d"\ndtype = "int8"\nruntime = "onnxruntime"\n',
        '[[models]]\nname = "test-tiny3d"\nruntime = ["pytorch", "onnxruntime"]\n\n'
        '[[models]]\nname = "test-tiny3d"\ndtype = "int8"\nruntime = "onnxruntime"\n',
    )
    path = tmp_path / "s.toml"
    path.write_text(
        body.replace('name = "int8-gate"', f'name = "r"\noutput = "{tmp_path / "out"}"')
    )
    calls = rounds_timed
    spec = parse_suite(path)
    _, cells = load_suite(path)
    reference, ort, int8 = cells
    summary = run_suite(spec, cells)
    assert [c.key for c in summary.ran] == [reference.key, ort.key, int8.key]
    assert not summary.failed and not summary.skipped
    records = read_records(spec.output)
    alone, *rounds = records
    assert alone["cell_key"] == reference.key and alone["interleaved"] is False
    latest = {r["cell_key"]: r for r in rounds}
    assert set(latest) == {reference.key, ort.key, int8.key}
    for record in latest.values():
        assert record["status"] == "ok", record["error"]
        assert record["interleaved"] is True and record["latency_fwd_ms"]["repeats"] == 3
        assert record["train_curve"] == alone["train_curve"] and record["top1"] == alone["top1"]
    assert latest[int8.key]["gate"]["float32"]["top1"] == pytest.approx(alone["top1"])
    assert latest[int8.key]["quantization"]["toolchain"]
    # 3 rounds of one forward of each network (the reference's repeats alone, after its
    # training, are not timed in rounds).
    assert len(calls) == 3 * 3
    for k in range(3):
        assert len(set(map(id, calls[3 * k : 3 * k + 3]))) == 3
    assert (tmp_path / "out" / "cells" / reference.key / "last.pt").exists()
    assert not (tmp_path / "out" / "cells" / int8.key / "last.pt").exists()  # not trained again
    # Re-timing the INT8 cell times its network's cells in rounds again, nothing trained.
    from mtbench.suite.store import write_records

    records[-1]["latency_fwd_ms"].update(verdict="disturbed", reasons=["busy"])
    write_records(spec.output, records)
    run(path, spec.output, "--retime-disturbed")
    again = read_records(spec.output)[len(records) :]
    assert sorted(r["cell_key"] for r in again) == sorted(c.key for c in cells)
    assert all(r["interleaved"] and r["status"] == "ok" for r in again)
    assert len(calls) == 2 * 3 * 3
