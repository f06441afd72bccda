"""Each bad-annotation case: one line naming the file (and line), exit code 2."""

import pytest
from conftest import assert_one_line_error
from videos import write_lines


@pytest.fixture
def ucf(tmp_path):
    """A UCF-101 annotation folder (no videos needed to fail on annotations)."""
    root, ann = tmp_path / "UCF-101", tmp_path / "lists"
    root.mkdir()
    write_lines(ann / "classInd.txt", ["1 Zumba", "2 Mixing"], "\r\n")
    write_lines(ann / "trainlist01.txt", ["Zumba/v_Zumba_g01_c01.avi 1"], "\r\n")
    write_lines(ann / "testlist01.txt", ["Mixing/v_Mixing_g01_c01.avi"], "\r\n")
    return root, ann


def inspect(cli_inproc, kind, root, ann):
    return cli_inproc(
        "data", "inspect", "--dataset", kind, "--root", str(root), "--annotations", str(ann)
    )


def test_missing_root(cli_inproc, ucf, tmp_path):
    result = inspect(cli_inproc, "ucf101", tmp_path / "nowhere", ucf[1])
    assert_one_line_error(result, "nowhere", "no such folder")


def test_missing_split_file(cli_inproc, ucf):
    (ucf[1] / "testlist01.txt").unlink()
    assert_one_line_error(inspect(cli_inproc, "ucf101", *ucf), "testlist01.txt", "no such")


def test_class_not_in_the_class_list(cli_inproc, ucf):
    lines = ["Zumba/v_Zumba_g01_c01.avi 1", "Juggling/v_Juggling_g01_c01.avi 2"]
    write_lines(ucf[1] / "trainlist01.txt", lines, "\r\n")
    result = inspect(cli_inproc, "ucf101", *ucf)
    assert_one_line_error(result, "trainlist01.txt:2", "'Juggling'", "classInd.txt")


def test_label_out_of_range(cli_inproc, ucf):
    write_lines(ucf[1] / "trainlist01.txt", ["Zumba/v_Zumba_g01_c01.avi 7"], "\r\n")
    result = inspect(cli_inproc, "ucf101", *ucf)
    assert_one_line_error(result, "trainlist01.txt:1", "label 7 out of range 1..2")


def test_label_that_disagrees_with_the_path(cli_inproc, ucf):
    write_lines(ucf[1] / "trainlist01.txt", ["Zumba/v_Zumba_g01_c01.avi 2"], "\r\n")
    assert_one_line_error(inspect(cli_inproc, "ucf101", *ucf), "trainlist01.txt:1", "'Mixing'")


def test_empty_split(cli_inproc, ucf):
    write_lines(ucf[1] / "testlist01.txt", ["", "  "], "\r\n")
    assert_one_line_error(inspect(cli_inproc, "ucf101", *ucf), "test split lists no videos")


def test_list_label_out_of_range(cli_inproc, tmp_path):
    (tmp_path / "v").mkdir()
    write_lines(tmp_path / "l" / "train.csv", ["a.mp4,0", "b.mp4 1"])
    write_lines(tmp_path / "l" / "test.csv", ["c.mp4,0"])
    write_lines(tmp_path / "l" / "classes.txt", ["only"])
    result = inspect(cli_inproc, "list", tmp_path / "v", tmp_path / "l")
    assert_one_line_error(result, "train.csv:2", "label 1 out of range 0..0")


def test_hmdb_split_id_out_of_range(cli_inproc, tmp_path):
    (tmp_path / "v").mkdir()
    write_lines(tmp_path / "s" / "run_test_split1.txt", ["a.avi 1 ", "b.avi 3 "])
    result = inspect(cli_inproc, "hmdb51", tmp_path / "v", tmp_path / "s")
    assert_one_line_error(result, "run_test_split1.txt:2", "split id 3")


def test_kinetics_csv_without_the_official_header(cli_inproc, tmp_path):
    (tmp_path / "v").mkdir()
    write_lines(tmp_path / "k.csv", ["label,id,split", "a,b,train"])
    result = inspect(cli_inproc, "kinetics", tmp_path / "v", tmp_path / "k.csv")
    assert_one_line_error(result, "k.csv:1", "youtube_id")


def test_unknown_dataset_kind(cli_inproc, tmp_path):
    result = inspect(cli_inproc, "ucf", tmp_path, tmp_path)
    assert_one_line_error(result, "'ucf'", "ucf101", "synthetic")


def test_a_split_whose_videos_are_all_missing_cannot_be_built(ucf):
    from mtbench.data import DataConfig, DataError, build_dataset

    cfg = DataConfig("ucf101", root=str(ucf[0]), annotations=str(ucf[1]))
    with pytest.raises(DataError, match="none of the 1 videos listed for train exist"):
        build_dataset(cfg, "train", train=True, seed=0)
