"""INT8 networks (issue 37): each toolchain quantizes r3d-18 and a user's model, the audit's
counts match the quantized graph counted here independently, the quantized file is cached and
reused, and every bad input is one line at validation.

Tiny inputs (1x3x4x32x32, 4 calibration clips, one thread): what is checked is what ran, not
how fast.
"""

import json
import os

import pytest
import torch
from conftest import assert_one_line_error
from torch import nn

from mtbench.deploy import quantize_torch
from mtbench.deploy.equality import fixed_clip
from mtbench.deploy.quantize import random_calibration
from mtbench.measure.profile import SEED, ProfileOptions, profile
from mtbench.registry import create_model

# One worker builds the module-scoped fixture (four quantizations of r3d-18) once for all of
# them (tests/serial_last.py); without the group each worker built it again.
pytestmark = pytest.mark.xdist_group("quantize")

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
pytest.importorskip("openvino")
pytest.importorskip("nncf")

SHAPE = [1, 3, 4, 32, 32]
TOOLCHAINS = {
    "openvino": ("openvino", "pt2e"),
    "onnxruntime": ("onnxruntime", "pt2e"),
    "fx": ("pytorch", "fx"),
    "pt2e": ("pytorch", "pt2e"),
}


def int8_options(toolchain: str, **more) -> ProfileOptions:
    runtime, quantizer = TOOLCHAINS[toolchain]
    return ProfileOptions(
        dtype="int8",
        runtime=runtime,
        quantizer=quantizer,
        measure=("latency_fwd",),
        warmup=0,
        repeats=1,
        threads=1,
        calibration_clips=4,
        **more,
    )


def compute_modules(model: nn.Module) -> list[str]:
    """The convolutions and linear layers of a model: what the audit must find, counted from
    the PyTorch module rather than the quantized graph."""
    kinds = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)
    return [name for name, m in model.named_modules() if isinstance(m, kinds)]


def built(name: str) -> nn.Module:
    torch.manual_seed(SEED)
    return create_model(name, num_classes=5).eval()


@pytest.fixture(scope="module")
def quantized(tmp_path_factory):
    """r3d-18 quantized by each toolchain once: {toolchain: (record, cell folder)}."""
    out = {}
    for toolchain in TOOLCHAINS:
        folder = tmp_path_factory.mktemp(toolchain)
        options = int8_options(toolchain)
        record = profile("r3d-18", {"num_classes": 5}, SHAPE, options, cache_dir=folder)
        out[toolchain] = (record, folder)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("toolchain", list(TOOLCHAINS))
def test_each_toolchain_quantizes_r3d18_and_audits_every_convolution(quantized, toolchain):
    record, _ = quantized[toolchain]
    assert record["status"] == "ok" and record["dtype"] == "int8"
    assert record["latency_fwd_ms"]["repeats"] == 1
    q = record["quantization"]
    audit = q["audit"]
    expected = compute_modules(built("r3d-18"))
    assert len(expected) == 21  # 20 conv3d and the classifier
    assert audit["int8_ops"] + audit["float_ops"] == len(expected)
    assert q["fidelity"]["label"].startswith("not an accuracy")
    assert q["settings"]["calibration_clips"] == 4
    assert q["settings"]["calibration"].startswith("random clips")
    if toolchain == "pt2e":
        # torchao's x86 Inductor quantizer annotates no conv3d (docs/deploy.md); only the
        # classifier is quantized, and only where Inductor lowered its pattern.
        lowered = q["settings"]["freezing"]
        assert audit["int8_ops"] == (1 if lowered else 0)
        assert set(audit["float_modules"]) >= set(expected) - {"fc"}
        return
    assert audit["int8_ops"] == len(expected) and audit["float_modules"] == []
    assert sorted(audit["int8_modules"]) == sorted(expected)
    # Every FLOP of r3d-18 but its pooling and additions is in a convolution or the classifier.
    assert audit["int8_flops_share"] == audit["matched_flops_share"] > 0.99


@pytest.mark.slow
def test_the_onnx_audit_counts_what_the_qdq_file_holds(quantized):
    record, folder = quantized["onnxruntime"]
    graph = onnx.load(str(folder / record["quantization"]["path"])).graph
    dequantized = {o for n in graph.node if n.op_type == "DequantizeLinear" for o in n.output}
    paired = [
        n.op_type
        for n in graph.node
        if n.op_type in ("Conv", "Gemm", "MatMul")
        and n.input[0] in dequantized
        and n.input[1] in dequantized
    ]
    assert record["quantization"]["audit"]["by_type"] == {
        "Conv": [paired.count("Conv"), 0],
        "Gemm": [paired.count("Gemm"), 0],
    }


@pytest.mark.slow
def test_the_openvino_audit_reads_the_runtime_precisions(quantized):
    import openvino as ov

    record, folder = quantized["openvino"]
    core = ov.Core()
    compiled = core.compile_model(str(folder / "model.int8.xml"), "CPU")
    infos = [op.get_rt_info() for op in compiled.get_runtime_model().get_ordered_ops()]
    convs = [i for i in infos if i["layerType"].astype(str) == "Convolution"]
    int8 = [i for i in convs if i["runtimePrecision"].astype(str) in ("i8", "u8")]
    assert record["quantization"]["audit"]["by_type"]["Convolution"] == [len(int8), 0]
    assert len(convs) == 20


@pytest.mark.slow
def test_the_breakdown_of_the_float32_cell_says_which_rows_ran_in_int8(
    quantized, tmp_path, monkeypatch, cli_inproc
):
    """`mtbench table --breakdown`: beside each row of r3d-18's float32 breakdown, per INT8
    network of the same model and input, how many of the row's convolutions and linear layers
    ran in INT8, checked against the modules of the PyTorch model."""
    from mtbench.measure import ceilings
    from mtbench.record import with_cell
    from mtbench.suite.store import write_records

    monkeypatch.setenv(ceilings.CACHE_ENV, str(tmp_path / "ceilings"))
    monkeypatch.setattr(ceilings, "measure_figure", lambda *a: ceilings.Measured(50.0, "clean"))
    options = ProfileOptions(measure=("params", "flops", "breakdown"), threads=1)
    plain = profile("r3d-18", {"num_classes": 5}, SHAPE, options)
    store = tmp_path / "store"
    records = [plain, quantized["openvino"][0], quantized["onnxruntime"][0]]
    cells = [{"suite": "s", "cell_key": f"k{i}", "label": f"r3d-18 {i}"} for i in range(3)]
    write_records(store, [with_cell(dict(r), c) for r, c in zip(records, cells, strict=True)])
    result = cli_inproc("table", str(store), "--breakdown")
    assert result.returncode == 0, result.stderr
    header, *rows = [
        [c.strip() for c in line.strip("|").split("|")]
        for line in result.stdout.splitlines()
        if line.startswith("|") and "---" not in line
    ]
    columns = {
        t: header.index(f"INT8 {t}")
        for t in ("nncf (openvino)", "onnxruntime.quantization (onnxruntime)")
    }
    convs = compute_modules(built("r3d-18"))
    for toolchain, record in (
        ("nncf (openvino)", records[1]),
        ("onnxruntime.quantization (onnxruntime)", records[2]),
    ):
        int8 = set(record["quantization"]["audit"]["int8_modules"])
        for row in rows:
            under = [m for m in convs if m == row[0] or m.startswith(row[0] + ".")]
            expected = f"{sum(m in int8 for m in under)} of {len(under)}" if under else "–"
            assert row[columns[toolchain]] == expected, (toolchain, row[0])
    assert {r[0] for r in rows} >= {"stem", "layer1", "layer4", "fc"}
    assert "ran in INT8 in that toolchain's network" in result.stdout


@pytest.mark.slow
def test_the_fx_audit_counts_the_quantized_operators():
    model = built("r3d-18")
    clip = fixed_clip(SHAPE)
    module, ops, _, _ = quantize_torch.fx(model, clip, random_calibration(SHAPE, 2).clips)
    code = module.code
    quantized_calls = code.count("quantized.conv3d(")
    quantized_modules = [
        n for n, m in module.named_modules() if type(m).__module__.startswith("torch.ao.nn")
    ]
    convs_and_linears = [
        n
        for n in quantized_modules
        if type(module.get_submodule(n)).__name__ in ("Conv3d", "ConvReLU3d", "Linear")
    ]
    assert sum(op.int8 for op in ops) == quantized_calls + len(convs_and_linears) == 21


@pytest.mark.slow
def test_the_quantized_file_is_cached_per_cell_and_reused(quantized):
    for toolchain, name in (("onnxruntime", "model.int8.onnx"), ("openvino", "model.int8.xml")):
        record, folder = quantized[toolchain]
        assert record["quantization"]["cached"] is False
        before = os.stat(folder / name).st_mtime_ns
        again = profile(
            "r3d-18", {"num_classes": 5}, SHAPE, int8_options(toolchain), cache_dir=folder
        )
        q = again["quantization"]
        assert q["cached"] is True and q["path"] == name
        assert os.stat(folder / name).st_mtime_ns == before
        assert q["fidelity"] == record["quantization"]["fidelity"]


@pytest.mark.slow
@pytest.mark.parametrize("toolchain", ["openvino", "onnxruntime", "fx"])
def test_a_users_model_is_quantized(tmp_path, toolchain):
    import deploy_models  # noqa: F401  (registers the user's test models)

    record = profile(
        "test-attention", {"num_classes": 5}, SHAPE, int8_options(toolchain), cache_dir=tmp_path
    )
    audit = record["quantization"]["audit"]
    # The patch embedding, qkv, proj and head are modules; attention's products are not.
    assert audit["int8_ops"] >= 1
    assert audit["int8_ops"] + audit["float_ops"] >= len(compute_modules(built("test-attention")))
    assert 0 < audit["matched_flops_share"] <= 1


@pytest.mark.slow
@pytest.mark.parametrize(("toolchain", "kind"), [("openvino", "RNNSeq"), ("onnxruntime", "GRU")])
def test_a_recurrent_layer_is_audited_as_float_in_its_module(tmp_path, toolchain, kind):
    """Neither toolchain quantizes a GRU: the audit counts one float operator per layer (the
    runtime graph's RNNSeq, the QDQ file's GRU nodes), in the GRU's own module, so the
    breakdown's row for it says so."""
    import deploy_models  # noqa: F401  (registers the user's test models)

    from mtbench.report.breakdown_tables import int8_ops_under

    record = profile(
        "test-recurrent", {"num_classes": 5}, SHAPE, int8_options(toolchain), cache_dir=tmp_path
    )
    audit = record["quantization"]["audit"]
    layers = built("test-recurrent").gru.num_layers
    if toolchain == "onnxruntime":
        graph = onnx.load(str(tmp_path / "model.int8.onnx")).graph
        assert sum(n.op_type == "GRU" for n in graph.node) == layers
    assert audit["by_type"][kind] == [0, layers]
    assert audit["float_modules"] == ["gru"] * layers
    assert sorted(audit["int8_modules"]) == ["conv", "head"]
    assert int8_ops_under(audit, "gru") == f"0 of {layers}"
    assert int8_ops_under(audit, None) == f"2 of {2 + layers}"
    assert 0 < audit["int8_flops_share"] < audit["matched_flops_share"] <= 1


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["--runtime", "tensorrt"], ["tensorrt needs a CUDA device"]),
        (["--runtime", "openvino", "--compile"], ["compile is a PyTorch option"]),
        (["--runtime", "onnxruntime", "--amp"], ["amp", "bfloat16 or float16"]),
        (["--compile"], ["compile", "quantizer"]),
        (["--calibration-clips", "0"], ["--calibration-clips", "integer >= 1"]),
        (["--breakdown"], ["breakdown", "int8"]),
    ],
)
def test_bad_int8_options_are_one_line(cli_inproc, args, needles):
    if "tensorrt" in args and torch.cuda.is_available():
        pytest.skip("the refusal is for machines without CUDA")
    result = cli_inproc("profile", "r3d-18", "--dtype", "int8", *args)
    assert_one_line_error(result, *needles)


def test_int8_keys_act_on_int8_cells_only_and_keep_other_keys():
    plain = ProfileOptions()
    options = ProfileOptions(calibration_clips=8, quantizer="fx", require_accuracy=0.99)
    assert options.key_options() == plain.key_options()
    assert ProfileOptions(dtype="int8", runtime="openvino", quantizer="fx").quantizer == "pt2e"
    assert ProfileOptions(dtype="int8", quantizer="fx").key_options()["quantizer"] == "fx"


def test_a_missing_toolchain_names_the_install_command(cli_inproc, monkeypatch):
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name: None if name == "nncf" else find_spec(name)
    )
    result = cli_inproc("profile", "r3d-18", "--dtype", "int8", "--runtime", "openvino")
    assert_one_line_error(
        result, "int8 through openvino needs nncf", "pip install 'mtbench[deploy]'"
    )


def test_bfloat16_is_refused_on_a_cpu_without_it(cli_inproc, monkeypatch):
    from mtbench import runtimes

    monkeypatch.setattr(runtimes, "cpu_flags", lambda: {"avx2", "avx512f"})
    result = cli_inproc("profile", "r3d-18", "--dtype", "bfloat16", "--runtime", "openvino")
    assert_one_line_error(result, "--dtype", "bfloat16", "avx512_bf16")
    monkeypatch.setattr(runtimes, "cpu_flags", lambda: {"avx512f", "avx512_bf16"})
    assert ProfileOptions(dtype="bfloat16", runtime="openvino").problems() == []


@pytest.mark.slow
def test_a_model_fx_cannot_trace_is_its_own_message_in_one_line(cli_inproc):
    result = cli_inproc(
        "profile",
        "mtnet-32",
        "-i",
        "1x3x4x32x32",
        "--dtype",
        "int8",
        "--quantizer",
        "fx",
        "--measure",
        "latency_fwd",
        "--calibration-clips",
        "1",
    )
    assert_one_line_error(result, "mtnet-32", "fx could not quantize the model: Proxy object")
    assert len(result.stderr) < 600


@pytest.mark.slow
def test_float32_and_int8_cells_of_a_model_interleave(tmp_path):
    import shutil
    from pathlib import Path

    from mtbench.cli import main
    from mtbench.suite.store import read_records

    shutil.copy(Path(__file__).parent / "deploy_models.py", tmp_path)
    path = tmp_path / "s.toml"
    path.write_text(
        '[suite]\nname = "mixed"\nimports = ["deploy_models.py"]\n[defaults]\n'
        f"input = {SHAPE}\nthreads = 1\nwarmup = 1\nrepeats = 3\ninterleave = true\n"
        'calibration_clips = 2\nmeasure = ["latency_fwd"]\n'
        '[[models]]\nname = "test-pooled"\nruntime = "onnxruntime"\ndtype = ["float32", "int8"]\n'
    )
    try:
        main(["run", str(path), "--output", str(tmp_path / "out")])
    except SystemExit as exc:
        assert exc.code in (0, None)
    records = {r["dtype"]: r for r in read_records(tmp_path / "out")}
    assert set(records) == {"float32", "int8"}
    for record in records.values():
        assert record["status"] == "ok", record["error"]
        assert record["interleaved"] is True and record["latency_fwd_ms"]["repeats"] == 3
    assert records["int8"]["quantization"]["audit"]["int8_ops"] == 2
    assert records["float32"]["quantization"] is None


# Cell keys of shipped suites computed before dtype int8 and its keys existed (main at 95841c1).
KEYS_BEFORE = {
    "smoke": ["aa6ea390e3875d35", "b7832be8b18ae4ab", "b9902b19076c1b5d"],
    "substreams": ["d8d7c84f9f752cd8", "5ed6125168b3469e", "0d9a44f9edc1df9d"],
}


@pytest.mark.parametrize("suite", list(KEYS_BEFORE))
def test_existing_suites_keep_their_keys(suite):
    from pathlib import Path

    from mtbench.suite.grid import load_suite

    cells = load_suite(Path(__file__).parent.parent / "suites" / f"{suite}.toml")[1]
    assert [c.key for c in cells][:3] == KEYS_BEFORE[suite]


@pytest.mark.slow
def test_profile_json_of_an_int8_cell_is_the_record_alone(cli_inproc):
    """NNCF draws its progress on stdout: `--json` must still print the record and nothing else."""
    result = cli_inproc(
        *("profile", "test-tiny3d", "--input", "1x3x4x32x32", "--dtype", "int8"),
        *(
            "--runtime",
            "openvino",
            "--calibration-clips",
            "2",
            "--measure",
            "latency_fwd",
            "--repeats",
            "1",
            "--json",
        ),
    )
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["quantization"]["toolchain"] == "nncf"


@pytest.mark.slow
def test_a_second_pt2e_network_leaves_the_first_compiled(one_thread):
    """In a suite's rounds every executor is built before any is timed: quantizing a second
    network by PT2E must not make the first one compile again on its next, timed, call, even
    where the second's freezing compile fails (r3d-18's, with this torch and torchao)."""
    from torch._dynamo.utils import counters

    from mtbench.deploy.quantize_torch import pt2e

    clip = torch.randn(1, 3, 4, 16, 16)
    first, *_ = pt2e(built("test-tiny3d"), clip, [clip])
    with torch.no_grad():
        first(clip)
        graphs = counters["stats"]["unique_graphs"]
        second, *_ = pt2e(built("r3d-18"), clip, [clip])
        second(clip)
        assert counters["stats"]["unique_graphs"] > graphs  # the second compiled
        graphs = counters["stats"]["unique_graphs"]
        first(clip)
    assert counters["stats"]["unique_graphs"] == graphs
