"""`mtbench data inspect` (text, --json, --check) and `mtbench data preview`."""

import json

import pytest
from videos import UCF_CLASSES, write_ucf101


@pytest.fixture(scope="module")
def ucf(tmp_path_factory):
    root, ann = write_ucf101(tmp_path_factory.mktemp("cli"))
    broken = root / "Mixing" / "v_Mixing_g02_c01.avi"
    broken.write_bytes(broken.read_bytes()[:100])
    return root, ann


def args(ucf, *extra):
    return ("--dataset", "ucf101", "--root", str(ucf[0]), "--annotations", str(ucf[1]), *extra)


def test_inspect_json_has_the_documented_shape(cli_inproc, ucf):
    result = cli_inproc("data", "inspect", *args(ucf, "--json", "--check"))
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["dataset"] == "ucf101" and info["classes"] == UCF_CLASSES
    one_each = dict.fromkeys(UCF_CLASSES, 1)
    assert {k: info["splits"]["train"][k] for k in ("videos", "missing", "per_class")} == {
        "videos": 3,
        "missing": 0,
        "per_class": one_each,
    }
    assert info["splits"]["test"]["missing"] == 1
    assert info["splits"]["test"]["missing_files"] == ["Mixing/v_Mixing_g03_c01.avi"]
    assert info["unreadable"] == ["Mixing/v_Mixing_g02_c01.avi"]


def test_inspect_without_check_decodes_nothing(cli_inproc, ucf):
    info = json.loads(cli_inproc("data", "inspect", *args(ucf, "--json")).stdout)
    assert "unreadable" not in info


def test_inspect_prints_classes_counts_and_missing_files(cli_inproc, ucf):
    result = cli_inproc("data", "inspect", *args(ucf))
    assert result.returncode == 0, result.stderr
    for name in UCF_CLASSES:
        assert name in result.stdout
    assert "missing (test): Mixing/v_Mixing_g03_c01.avi" in result.stdout


def test_preview_writes_a_contact_sheet(cli_inproc, ucf, tmp_path):
    from PIL import Image

    out = tmp_path / "sheet.png"
    extra = ("--out", str(out), "--clips", "2", "--frames", "4", "--crop", "28")
    result = cli_inproc("data", "preview", *args(ucf, *extra))
    assert result.returncode == 0, result.stderr
    with Image.open(out) as image:
        assert image.width > 100 and image.height > 100
