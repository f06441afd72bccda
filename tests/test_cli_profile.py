import json

import pytest
from conftest import assert_one_line_error

RECORD_KEYS = {
    "model",
    "model_kwargs",
    "input_shape",
    "params_total",
    "params_trainable",
    "gflops",
    "gflops_ptflops",
    "flops_rel_diff",
    "flops_skipped_ops",
    "latency_fwd_ms",
    "latency_fwdbwd_ms",
    "peak_mem_mb",
    "device",
    "dtype",
    "batch_size",
    "env",
    "status",
    "error",
}


@pytest.mark.slow
def test_profile_json_is_the_result_record(cli_inproc):
    result = cli_inproc(
        "profile",
        "r3d-18",
        "--input",
        "2x3x4x32x32",
        "--repeats",
        "2",
        "--warmup",
        "1",
        "--kw",
        "num_classes=10",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert RECORD_KEYS <= set(record)
    assert record["status"] == "ok" and record["error"] is None
    assert record["input_shape"] == [2, 3, 4, 32, 32] and record["batch_size"] == 2
    assert record["model_kwargs"] == {"num_classes": 10}
    # torchvision r3d-18 (33,371,472) with its 400-way classifier (512 + 1 each) cut to 10
    assert record["params_total"] == 33_371_472 - (400 - 10) * (512 + 1)
    for key in ("latency_fwd_ms", "latency_fwdbwd_ms"):
        stats = record[key]
        assert stats["repeats"] == 2 and stats["p10"] <= stats["median"] <= stats["p90"]
    assert record["env"]["torch"] and record["env"]["threads"] >= 1


def test_profile_table_states_the_flop_convention(cli_inproc):
    result = cli_inproc("profile", "mc3-18", "--input", "1x3x4x32x32", "--measure", "params,flops")
    assert result.returncode == 0, result.stderr
    assert "1 MAC = 1 FLOP" in result.stdout
    assert "not measured" in result.stdout


def test_models_lists_names_families_and_kwargs(cli_inproc):
    result = cli_inproc("models", "--json")
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows["r2plus1d-18"]["family"] == "r2plus1d"
    assert "num_classes" in rows["s3d"]["kwargs"]


@pytest.mark.parametrize(
    "args,needles",
    [
        (["profile", "r3d-19"], ["unknown model", "r3d-18"]),
        (["profile", "r3d-18", "--kw", "depth=3"], ["depth", "num_classes"]),
        (["profile", "mtnet-64", "--kw", "g=7"], ["error: mtnet-64: g=7 does not divide"]),
        (["profile", "mtnet-64", "--kw", "r=0.3"], ["r"]),
        (["profile", "r3d-18", "--kw", "depth"], ["KEY=VALUE"]),
        (["profile", "r3d-18", "--input", "1x3x16"], ["--input", "BxCxTxHxW"]),
        (["profile", "r3d-18", "--repeats", "0"], ["--repeats", ">= 1"]),
        (["profile", "r3d-18", "--measure", "speed"], ["--measure", "latency_fwd"]),
        (["profile", "r3d-18", "--dtype", "fp8"], ["--dtype", "bfloat16"]),
    ],
)
def test_bad_input_is_one_line_exit_2(cli_inproc, args, needles):
    assert_one_line_error(cli_inproc(*args), *needles)


@pytest.mark.slow
def test_bad_input_from_the_shell_has_no_traceback(cli):
    assert_one_line_error(cli("profile", "r3d-19"), "unknown model")


def test_show_prints_a_saved_record_as_profile_printed_it(cli_inproc, tmp_path):
    """`profile --json` then `show FILE` is `profile` itself (how docs render a saved record)."""
    args = ["profile", "mc3-18", "--input", "1x3x4x32x32", "--measure", "params,flops"]
    saved = cli_inproc(*args, "--json")
    assert saved.returncode == 0, saved.stderr
    (tmp_path / "r.json").write_text(saved.stdout)
    shown = cli_inproc("show", str(tmp_path / "r.json"))
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout == cli_inproc(*args).stdout


@pytest.mark.parametrize(
    ("content", "extra", "needle"),
    [
        ("[1, 2]", [], "not a record saved with `mtbench profile --json`"),
        ("{not json", [], "not a record saved with `mtbench profile --json` (Expecting"),
        ('{"model": "x"}', ["--by", "layer"], "--by 'layer': choose one of module, op"),
    ],
)
def test_show_of_a_file_that_is_not_a_record_is_one_line(
    cli_inproc, tmp_path, content, extra, needle
):
    (tmp_path / "r.json").write_text(content)
    result = cli_inproc("show", str(tmp_path / "r.json"), *extra)
    assert_one_line_error(result, needle)
