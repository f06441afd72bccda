"""The record's layout: every earlier layout reads with its values and meanings unchanged, a
new record says its layout version, and each writer fills exactly the part `record.py`
declares for it."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path

import pytest

from mtbench.record import (
    MEASUREMENT_KEYS,
    MODULE_COLUMNS,
    OP_COLUMNS,
    SCHEMA,
    Deploy,
    Env,
    Latency,
    TrainStep,
    breakdown_rows_of,
    ceilings_of,
    new_record,
    read_record,
    verdict_of,
)

FIRST = json.loads(
    (Path(__file__).parent / "fixtures" / "report" / "baselines" / "results.jsonl")
    .read_text()
    .splitlines()[0]
)
SAMPLES = {
    "median": 10.0,
    "p10": 9.0,
    "p90": 12.0,
    "cv": 0.1,
    "repeats": 3,
    "samples": [10.0, 9.0, 12.0],
}
CEILINGS = {
    "entry": "cpu/float32/2 threads",
    "threads": 2,
    "gemm_gflops": 100.0,
    "conv3d_gflops": 80.0,
    "copy_gbs": 10.0,
    "add_gbs": 12.0,
    "measured_at": "2026-11-30T10:00:00Z",
}
BREAKDOWN = {
    "depth": 1,
    "error": None,
    "module_columns": list(MODULE_COLUMNS),
    "modules": [
        ["stem", 100, 1.5, 1.5, 2.0, 3.0, 4.0, None],
        ["(outside modules)", 0, 0.0, 0.0, None, 0.5, 0.1, None],
    ],
    "op_columns": list(OP_COLUMNS),
    "ops": [["conv", 1.5, 1.5, 3.0, 4.0, None]],
    "fwd_ms": 4.1,
    "unprofiled_fwd_ms": 4.0,
    "time_source": "cpu wall clock",
    "verdict": "unknown",
}
CONTENTION = {
    "others_share": 0.0,
    "others_cores": 0.0,
    "pressure_some": 0.0,
    "load_before": 0.1,
    "load_after": 0.1,
    "wall_s": 0.03,
    "own_cpu_s": 0.03,
    "cores": 2,
    "threads": 1,
}
DEPLOY = {
    "runtime_version": "1.20.0",
    "path": "model.onnx",
    "exporter": "torch.onnx dynamo",
    "opset": 18,
    "nodes": 40,
    "operators": {"Conv": 20},
    "file_bytes": 1000,
    "export_s": 2.0,
    "cached": False,
    "precision": "float32",
    "max_rel_diff": 1e-6,
    "threshold": 1e-4,
}

# Each earlier release's record: what the one before wrote, plus what it added.
LAYOUTS = {
    "first release": FIRST,
    "raw repeats (1aa1851)": {**FIRST, "latency_fwd_ms": SAMPLES, "latency_fwdbwd_ms": None},
    "breakdown and ceilings (c39b0dd)": {
        **FIRST,
        "latency_fwd_ms": SAMPLES,
        "breakdown": BREAKDOWN,
        "breakdown_depth": None,
        "env": {**FIRST["env"], "cpu_capability": "AVX2", "ceilings": CEILINGS},
    },
    "contention (824a66b)": {
        **FIRST,
        "interleaved": True,
        "latency_fwd_ms": {**SAMPLES, "contention": CONTENTION, "verdict": "clean", "reasons": []},
        "latency_fwdbwd_ms": None,
    },
    "runtimes (4b59ca1)": {**FIRST, "runtime": "onnxruntime", "deploy": DEPLOY},
}


@pytest.mark.parametrize("layout", LAYOUTS)
def test_every_earlier_layout_reads_with_its_stored_values(layout):
    stored = LAYOUTS[layout]
    before = copy.deepcopy(stored)
    record = read_record(stored)
    assert stored == before  # the store's dict is not touched
    assert set(MEASUREMENT_KEYS) <= set(record)
    assert record["schema"] == 0  # no `schema` key: an earlier layout
    for key, value in stored.items():
        if key not in ("latency_fwd_ms", "latency_fwdbwd_ms"):
            assert record[key] == value, key
    for key in ("latency_fwd_ms", "latency_fwdbwd_ms"):
        if isinstance(stored.get(key), dict):  # figures kept, the fields it predates filled
            assert {k: record[key][k] for k in stored[key]} == stored[key]
            assert set(record[key]) == set(Latency.__annotations__)
    assert record["runtime"] == stored.get("runtime", "pytorch")
    assert record["interleaved"] is stored.get("interleaved", False)


def test_a_timing_before_contention_reads_unknown_and_one_with_it_keeps_its_verdict():
    first = read_record(LAYOUTS["first release"])
    assert first["latency_fwd_ms"]["verdict"] == "unknown"
    assert first["latency_fwd_ms"]["samples"] == []  # no raw repeats: no interval is made up
    assert first["latency_fwd_ms"]["contention"] is None
    assert verdict_of(first) == "unknown"
    measured = read_record(LAYOUTS["contention (824a66b)"])
    assert measured["latency_fwd_ms"]["reasons"] == []
    assert verdict_of(measured) == "clean"


def test_a_new_record_says_its_layout_and_it_reads_back_as_written():
    identity = {
        "model": "m",
        "family": None,
        "provenance": None,
        "model_kwargs": {},
        "input_shape": (2, 3, 4, 8, 8),
    }
    record = new_record(identity, {"dtype": "float32"}, "2026-12-06T00:00:00+00:00")
    assert record["schema"] == SCHEMA >= 1
    assert set(record) == set(MEASUREMENT_KEYS)
    assert record["batch_size"] == 2 and record["input_shape"] == [2, 3, 4, 8, 8]
    assert read_record(json.loads(json.dumps(record))) == record


def test_breakdown_rows_and_ceilings_read_through_their_declared_parts():
    record = read_record(LAYOUTS["breakdown and ceilings (c39b0dd)"])
    assert ceilings_of(record) == CEILINGS
    modules = breakdown_rows_of(record["breakdown"], "module")
    assert modules[0] == {
        "module": "stem",
        "params": 100,
        "gflops": 1.5,
        "gflops_ptflops": 1.5,
        "out_mib": 2.0,
        "moved_mb": 3.0,
        "fwd_ms": 4.0,
        "fwdbwd_ms": None,
    }
    assert [r["kind"] for r in breakdown_rows_of(record["breakdown"], "op")] == ["conv"]
    assert breakdown_rows_of({"depth": 1, "error": "counting: boom"}, "op") == []
    failed = {**FIRST, "env": {**FIRST["env"], "ceilings": {"error": "out of memory"}}}
    assert ceilings_of(read_record(failed)) is None
    assert ceilings_of(read_record(FIRST)) is None


def test_the_stored_column_names_are_those_every_layout_wrote():
    # The JSON layout of breakdown rows and training curves, written out independently.
    assert MODULE_COLUMNS == (
        "module",
        "params",
        "gflops",
        "gflops_ptflops",
        "out_mib",
        "moved_mb",
        "fwd_ms",
        "fwdbwd_ms",
    )
    assert OP_COLUMNS == ("kind", "gflops", "gflops_ptflops", "moved_mb", "fwd_ms", "fwdbwd_ms")
    assert tuple(TrainStep.__annotations__) == ("epoch", "lr", "loss", "train_top1")


def test_latency_stats_is_the_records_latency():
    from mtbench.measure.latency import LatencyStats, summarize

    assert [f.name for f in dataclasses.fields(LatencyStats)] == list(Latency.__annotations__)
    stats = summarize([3.0, 1.0, 2.0], clips_per_run=1).as_dict()
    assert list(stats) == list(Latency.__annotations__)
    assert stats["samples"] == [3.0, 1.0, 2.0] and stats["median"] == 2.0
    assert json.loads(json.dumps(stats)) == stats


def test_the_deploy_part_is_what_the_export_and_the_cell_write():
    from mtbench.deploy.export import Exported

    exported = {f.name for f in dataclasses.fields(Exported)}
    added_by_the_cell = {"runtime_version", "precision", "max_rel_diff", "threshold"}
    assert exported | added_by_the_cell == set(Deploy.__annotations__)
    assert set(DEPLOY) == set(Deploy.__annotations__)


def test_the_environment_fills_the_declared_env():
    import torch

    from mtbench.measure.environment import environment

    env = environment(torch.device("cpu"))
    assert set(env) == set(Env.__annotations__) - {"ceilings"}  # ceilings: with a breakdown
