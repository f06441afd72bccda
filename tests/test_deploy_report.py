"""Runtime is a condition in reports: shown in tables, never mixed into a delta, except with
`--baseline runtime=NAME`, which puts each cell beside its own model under that runtime."""

import copy
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_one_line_error

from mtbench.suite.store import read_records, write_records

FIXTURES = Path(__file__).parent / "fixtures" / "report"
DEPLOYED = {"MTNet-32 r=0.875 g=1": 0.5, "R3D-18": 0.8}  # label -> latency scale


@pytest.fixture
def store(tmp_path):
    """The fixture store (written before runtimes existed) with raw repeats, and two of its
    cells again under ONNX Runtime, their repeats scaled by a known factor."""
    records = read_records(FIXTURES / "substreams")
    rng = np.random.default_rng(0)
    for record in records:
        if record.get("latency_fwd_ms"):
            samples = record["latency_fwd_ms"]["median"] * rng.lognormal(0, 0.01, size=10)
            record["latency_fwd_ms"].update(median=float(np.median(samples)), samples=list(samples))
    for record in [r for r in records if r["label"] in DEPLOYED]:
        deployed = copy.deepcopy(record)
        samples = [s * DEPLOYED[record["label"]] for s in record["latency_fwd_ms"]["samples"]]
        deployed["latency_fwd_ms"].update(median=float(np.median(samples)), samples=samples)
        deployed.update(
            runtime="onnxruntime",
            label=f"{record['label']} onnxruntime",
            cell_key=record["cell_key"][:-3] + "ort",
            latency_fwdbwd_ms=None,
        )
        records.append(deployed)
    folder = tmp_path / "reports" / "deploy"
    write_records(folder, records)
    return folder


def test_runtime_baseline_compares_each_cell_with_its_own_model(store, cli_inproc):
    result = cli_inproc("compare", str(store), "--baseline", "runtime=pytorch")
    assert result.returncode == 0, result.stderr
    lines = {line.split("|")[1].strip(): line for line in result.stdout.splitlines() if "|" in line}
    for label, scale in DEPLOYED.items():
        line = lines[f"{label} onnxruntime"]
        assert f"{scale:.2f} [" in line and "onnxruntime vs eager" in line
    assert not any("MTNet-64" in label for label in lines)  # PyTorch cells are the baselines


def test_a_plain_baseline_never_mixes_runtimes(store, cli_inproc):
    result = cli_inproc("compare", str(store), "--baseline", "R3D-18")
    assert result.returncode == 0, result.stderr
    table = [line for line in result.stdout.splitlines() if line.startswith("| ")]
    assert not any("onnxruntime" in line for line in table)
    assert "not compared: R3D-18 onnxruntime" in result.stdout


def test_an_absent_runtime_baseline_is_one_line(store, cli_inproc):
    result = cli_inproc("compare", str(store), "--baseline", "runtime=openvino")
    assert_one_line_error(result, "no cell ran under 'openvino' (runtimes: pytorch, onnxruntime)")


def test_tables_show_the_runtime(store, cli_inproc):
    result = cli_inproc("table", str(store))
    assert result.returncode == 0, result.stderr
    header = next(line for line in result.stdout.splitlines() if line.startswith("| Family"))
    assert "Runtime" in header
    row = next(line for line in result.stdout.splitlines() if "R3D-18 onnxruntime" in line)
    assert "| onnxruntime" in row
