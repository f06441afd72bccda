"""Runtimes other than PyTorch (issue 29): every exported network is proven equal to PyTorch
eager before it is timed, and the record says what ran.

One suite (module fixture) runs r3d-18, MTNet-32, X3D-XS and a user's attention model under
PyTorch, ONNX Runtime and OpenVINO at 1x3x4x32x32, plus a model whose export computes something
else; the tests read its records and check them against onnx, onnxruntime and the model itself.
"""

import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import assert_one_line_error

from mtbench.deploy.equality import fixed_clip
from mtbench.measure.profile import SEED, ProfileOptions, profile
from mtbench.registry import create_model
from mtbench.suite.grid import load_suite
from mtbench.suite.store import read_records

# One worker builds the module-scoped fixture once for all of them (tests/serial_last.py).
pytestmark = pytest.mark.xdist_group("deploy")

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
ov = pytest.importorskip("openvino")

MODELS = ["r3d-18", "mtnet-32", "x3d-xs", "test-attention"]
RUNTIMES = ["pytorch", "onnxruntime", "openvino"]
SHAPE = [1, 3, 4, 32, 32]
USER_MODELS = Path(__file__).parent / "deploy_models.py"
SUITE = f"""
[suite]
name = "deploy-test"
imports = ["deploy_models.py"]
[defaults]
input = {SHAPE}
threads = 1
warmup = 1
repeats = 2
measure = ["params", "latency_fwd"]
[[models]]
name = {MODELS}
num_classes = 5
runtime = {RUNTIMES}
[[models]]
name = "test-wrong-export"
runtime = "onnxruntime"
"""


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    """The suite run once: (suite file, store folder, records by (model, runtime))."""
    from mtbench.cli import main

    folder = tmp_path_factory.mktemp("deploy")
    shutil.copy(USER_MODELS, folder)
    path = folder / "deploy.toml"
    path.write_text(SUITE)
    out = folder / "out"
    try:
        main(["run", str(path), "--output", str(out)])
    except SystemExit as exc:
        assert exc.code in (0, None, 1), exc.code
    records = {(r["model"], r["runtime"]): r for r in read_records(out)}
    return path, out, records


def _built(name: str) -> torch.nn.Module:
    """The model as the cell built it (seeded the same), in eval mode."""
    torch.manual_seed(SEED)
    return create_model(name, num_classes=5).eval()


@pytest.mark.slow
@pytest.mark.parametrize("runtime", RUNTIMES[1:])
@pytest.mark.parametrize("model", MODELS)
def test_each_runtime_exports_proves_equal_and_times(suite, model, runtime):
    record = suite[2][(model, runtime)]
    assert record["status"] == "ok", record["error"]
    deploy = record["deploy"]
    assert deploy["max_rel_diff"] <= 1e-5 and deploy["threshold"] == 1e-4
    assert deploy["precision"] == "float32" and record["threads"] == 1
    assert (
        record["latency_fwd_ms"]["repeats"] == 2 and len(record["latency_fwd_ms"]["samples"]) == 2
    )
    assert record["latency_fwdbwd_ms"] is None
    assert deploy["nodes"] == sum(deploy["operators"].values()) > 0
    assert deploy["file_bytes"] > 4 * record["params_total"] * 0.99  # float32 weights inside
    assert deploy["export_s"] > 0 and deploy["runtime_version"]
    version = ort.__version__ if runtime == "onnxruntime" else ov.__version__.split("-")[0]
    assert deploy["runtime_version"] == version
    expected = "torch.onnx dynamo" if runtime == "onnxruntime" else "openvino.convert_model"
    assert deploy["exporter"] == expected
    assert (deploy["opset"] is None) == (runtime == "openvino")


@pytest.mark.slow
def test_the_onnx_file_is_what_the_record_says_and_computes_the_models_logits(suite):
    """Against onnx and onnxruntime read here, and the model rebuilt here."""
    _, out, records = suite
    record = records[("x3d-xs", "onnxruntime")]
    path = out / "cells" / record["cell_key"] / "model.onnx"
    proto = onnx.load(str(path))
    assert dict(Counter(n.op_type for n in proto.graph.node)) == record["deploy"]["operators"]
    assert record["deploy"]["opset"] == proto.opset_import[0].version
    clip = fixed_clip(SHAPE)
    logits = ort.InferenceSession(str(path)).run(None, {proto.graph.input[0].name: clip.numpy()})
    with torch.no_grad():
        reference = _built("x3d-xs")(clip).numpy()
    figure = np.abs(logits[0] - reference).max() / np.abs(reference).max()
    assert figure == pytest.approx(record["deploy"]["max_rel_diff"], rel=1e-3, abs=1e-7)


@pytest.mark.slow
def test_a_users_model_through_imports_runs_under_onnxruntime(suite):
    record = suite[2][("test-attention", "onnxruntime")]
    assert record["status"] == "ok" and record["provenance"]["origin"] != "built-in"


@pytest.mark.slow
def test_mtnet_exports_its_recurrent_cells_as_fused_gru_operators(suite):
    from mtbench.models.recurrent import GRU

    # ONNX's GRU is one layer: a two-layer cell is two operators.
    layers = sum(m.num_layers for m in create_model("mtnet-32").modules() if isinstance(m, GRU))
    operators = suite[2][("mtnet-32", "onnxruntime")]["deploy"]["operators"]
    assert layers > 0 and operators.get("GRU") == layers
    assert "Loop" not in operators and "Scan" not in operators


@pytest.mark.slow
def test_an_export_that_computes_something_else_fails_its_cell_with_the_figure(suite):
    record = suite[2][("test-wrong-export", "onnxruntime")]
    assert record["status"] == "failed" and "\n" not in record["error"]
    assert (
        "outputs differ from PyTorch eager float32 by 0.01 of the largest logit"
        in (record["error"])
    )
    assert len(suite[2]) == len(MODELS) * len(RUNTIMES) + 1  # the suite went on


@pytest.mark.slow
def test_a_rerun_reads_the_cached_export(suite, monkeypatch):
    """The cell's folder already holds the file: nothing is exported again."""
    path, out, records = suite
    cell = next(
        c for c in load_suite(path)[1] if (c.model, c.options.runtime) == ("x3d-xs", "onnxruntime")
    )

    def refuse(*args, **kwargs):
        raise AssertionError("exported again")

    monkeypatch.setattr(torch.onnx, "export", refuse)
    record = profile(
        cell.model, cell.kwargs, SHAPE, cell.options, cache_dir=out / "cells" / cell.key
    )
    assert record["deploy"]["cached"] is True
    assert (
        record["deploy"]["max_rel_diff"]
        == records[("x3d-xs", "onnxruntime")]["deploy"]["max_rel_diff"]
    )


@pytest.mark.slow
def test_openvino_runs_float32_unless_the_cell_asks_for_bfloat16(suite):
    _, out, records = suite
    assert records[("x3d-xs", "openvino")]["deploy"]["precision"] == "float32"
    if "BF16" not in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"):
        pytest.skip("this CPU has no bfloat16: OpenVINO runs float32 whatever the hint")
    options = ProfileOptions(
        dtype="bfloat16", runtime="openvino", measure=("latency_fwd",), warmup=0, repeats=1
    )
    # The IR does not depend on the precision (it is compiled at it): the f32 cell's is reused.
    folder = out / "cells" / records[("x3d-xs", "openvino")]["cell_key"]
    record = profile("x3d-xs", {"num_classes": 5}, SHAPE, options, cache_dir=folder)
    deploy = record["deploy"]
    assert deploy["precision"] == "bfloat16" and deploy["threshold"] == 5e-2
    assert 1e-5 < deploy["max_rel_diff"] <= 5e-2  # bfloat16 really ran: not float32's 1e-7


def test_pytorch_cells_keep_their_keys_and_a_runtime_makes_a_new_one(tmp_path):
    path = tmp_path / "s.toml"
    body = '[suite]\nname = "s"\n[[models]]\nname = "r3d-18"\n'
    path.write_text(body)
    (plain,) = load_suite(path)[1]
    path.write_text(body + 'runtime = ["pytorch", "onnxruntime"]\n')
    pytorch, onnxruntime = load_suite(path)[1]
    assert pytorch.key == plain.key and onnxruntime.key != plain.key
    assert onnxruntime.options.measure == ("params", "flops", "latency_fwd", "memory")


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["--runtime", "onnxrt"], ["--runtime", "did you mean 'onnxruntime'"]),
        (["--runtime", "openvino", "--compile"], ["compile is a PyTorch option"]),
        (["--runtime", "openvino", "--amp", "--dtype", "bfloat16"], ["amp"]),
        (["--runtime", "onnxruntime", "--channels-last"], ["channels_last"]),
        (["--runtime", "onnxruntime", "--measure", "latency_fwdbwd"], ["forward only"]),
        (["--runtime", "onnxruntime", "--dtype", "bfloat16"], ["runs float32"]),
        (["--runtime", "pytorch", "--exporter", "dynamo"], ["--exporter"]),
    ],
)
def test_bad_runtime_options_are_one_line(cli_inproc, args, needles):
    assert_one_line_error(cli_inproc("profile", "r3d-18", *args), *needles)


@pytest.mark.skipif(torch.cuda.is_available(), reason="the refusal is for machines without CUDA")
def test_tensorrt_without_cuda_is_one_line(cli_inproc):
    assert_one_line_error(
        cli_inproc("profile", "r3d-18", "--runtime", "tensorrt"), "tensorrt needs a CUDA device"
    )


def test_a_missing_runtime_package_names_the_install_command(cli_inproc, monkeypatch):
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name: None if name == "openvino" else find_spec(name)
    )
    assert_one_line_error(
        cli_inproc("profile", "r3d-18", "--runtime", "openvino"),
        "openvino needs openvino",
        "pip install 'mtbench[deploy]'",
    )


def test_bad_runtime_in_a_suite_is_one_line_per_problem(tmp_path, cli_inproc):
    path = tmp_path / "s.toml"
    path.write_text(
        '[suite]\nname = "s"\n[[models]]\nname = "r3d-18"\nruntime = "openvin"\n'
        '[[models]]\nname = "x3d-xs"\nruntime = "onnxruntime"\ncompile = true\n'
    )
    result = cli_inproc("run", str(path), "--dry-run")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "models[0].runtime: 'openvin' is not one of" in result.stderr
    assert "did you mean 'openvino'" in result.stderr
    path.write_text(
        '[suite]\nname = "s"\n[[models]]\nname = "x3d-xs"\nruntime = "onnxruntime"'
        "\ncompile = true\n"
    )
    assert_one_line_error(
        cli_inproc("run", str(path), "--dry-run"),
        "models[0].runtime",
        "compile is a PyTorch option",
    )


@pytest.mark.slow
def test_an_operator_onnx_cannot_express_fails_the_cell_with_the_exporters_line(tmp_path):
    import deploy_models  # noqa: F401  (registers test-custom-op)

    options = ProfileOptions(runtime="onnxruntime", measure=("latency_fwd",), repeats=1)
    with pytest.raises(
        RuntimeError,
        match=r"export \(dynamo\) failed: No ONNX function found "
        r"for <OpOverload\(op='mtbench_test.shift'",
    ):
        profile("test-custom-op", {}, SHAPE, options, cache_dir=tmp_path)


@pytest.mark.parametrize(
    ("runtime", "exporter", "named"),
    [
        ("onnxruntime", "torchscript", "torch.onnx torchscript"),
        ("openvino", "dynamo", "torch.onnx dynamo -> openvino"),
    ],
)
@pytest.mark.slow
def test_the_other_exporters_are_equal_too(tmp_path, runtime, exporter, named):
    import deploy_models  # noqa: F401  (registers test-pooled)

    options = ProfileOptions(
        runtime=runtime, exporter=exporter, measure=("latency_fwd",), warmup=0, repeats=1
    )
    record = profile("test-pooled", {}, SHAPE, options, cache_dir=tmp_path)
    assert record["deploy"]["exporter"] == named and record["deploy"]["opset"] is not None
    assert record["deploy"]["max_rel_diff"] <= 1e-5
    assert (tmp_path / "model.onnx").is_file()


@pytest.mark.slow
def test_file_size_counts_the_external_weights_file(tmp_path):
    """A graph whose weights live in `.onnx.data` (the exporter's choice for big models)."""
    from onnx import TensorProto, helper, numpy_helper

    from mtbench.deploy.export import onnx_graph

    weight = numpy_helper.from_array(np.ones((64, 64), dtype=np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"]), helper.make_node("Relu", ["y"], ["z"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64])],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, 64])],
        [weight],
    )
    path = tmp_path / "model.onnx"
    onnx.save_model(
        helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]),
        str(path),
        save_as_external_data=True,
        location="model.onnx.data",
        size_threshold=0,
    )
    opset, nodes, operators, size = onnx_graph(path)
    data = tmp_path / "model.onnx.data"
    assert data.stat().st_size >= 64 * 64 * 4
    assert (opset, nodes, operators) == (18, 2, {"MatMul": 1, "Relu": 1})
    assert size == path.stat().st_size + data.stat().st_size


def test_the_equality_figure_is_relative_to_the_largest_logit():
    from mtbench.deploy.equality import check_equal, relative_difference

    reference = np.array([[2.0, -4.0, 1.0]], dtype=np.float32)
    assert relative_difference(reference, reference + [[0.0, 0.002, 0.0]]) == pytest.approx(5e-4)
    check_equal(9e-5, "float32")
    with pytest.raises(RuntimeError, match=r"by 0.0002 of the largest logit \(threshold 0.0001"):
        check_equal(2e-4, "float32")
    with pytest.raises(RuntimeError, match="nan"):
        check_equal(float("nan"), "float32")
