import textwrap

from mtbench.suite.grid import load_suite, shard

SUITE = """
[suite]
name = "grid"

[defaults]
input = [1, 3, 8, 32, 32]
repeats = 2

[[models]]
name = "r3d-18"
num_classes = [10, 20]
input = [[1, 3, 8, 32, 32], [2, 3, 4, 48, 48]]

[[models]]
name = "mc3-18"
label = "MC3 {num_classes}-way"
num_classes = 5
repeats = [3, 4]
"""


def cells_of(tmp_path, body=SUITE):
    path = tmp_path / "grid.toml"
    path.write_text(textwrap.dedent(body))
    return load_suite(path)[1]


def test_cartesian_grid_in_file_order_last_key_fastest(tmp_path):
    cells = cells_of(tmp_path)
    got = [(c.model, c.kwargs.get("num_classes"), c.input_shape, c.options.repeats) for c in cells]
    assert got == [
        ("r3d-18", 10, [1, 3, 8, 32, 32], 2),
        ("r3d-18", 10, [2, 3, 4, 48, 48], 2),
        ("r3d-18", 20, [1, 3, 8, 32, 32], 2),
        ("r3d-18", 20, [2, 3, 4, 48, 48], 2),
        ("mc3-18", 5, [1, 3, 8, 32, 32], 3),
        ("mc3-18", 5, [1, 3, 8, 32, 32], 4),
    ]
    assert [c.index for c in cells] == list(range(6))
    assert cells[0].label == "r3d-18 num_classes=10 input=1x3x8x32x32"
    assert cells[4].label == "MC3 5-way"


def test_cell_keys_are_stable_and_differ_with_any_setting(tmp_path):
    first = [c.key for c in cells_of(tmp_path)]
    again = [c.key for c in cells_of(tmp_path)]
    assert first == again and len(set(first)) == len(first)
    for changed in ("warmup = 5", "dtype = 'bfloat16'", "count_norm = false", "threads = 1"):
        body = SUITE.replace("repeats = 2\n", f"repeats = 2\n{changed}\n", 1)
        keys = [c.key for c in cells_of(tmp_path, body)]
        assert not set(keys) & set(first), changed


def test_batch_size_replaces_the_batch_of_input(tmp_path):
    body = SUITE.replace("repeats = 2\n", "repeats = 2\nbatch_size = 4\n", 1)
    assert {c.input_shape[0] for c in cells_of(tmp_path, body)} == {4}


def test_shards_partition_the_suite(tmp_path):
    cells = cells_of(tmp_path)
    for n in (1, 2, 4, 7):
        parts = [shard(cells, i, n) for i in range(n)]
        keys = [c.key for part in parts for c in part]
        assert sorted(keys) == sorted(c.key for c in cells)
        assert len(keys) == len(set(keys))
        assert max(map(len, parts)) - min(map(len, parts)) <= 1


def test_a_list_of_names_expands_like_any_other_key(tmp_path):
    body = """
    [suite]
    name = "names"
    [[models]]
    name = ["r3d-18", "mc3-18"]
    label = "{name} ({num_classes})"
    num_classes = [3, 4]
    """
    cells = cells_of(tmp_path, body)
    assert [(c.model, c.kwargs["num_classes"]) for c in cells] == [
        ("r3d-18", 3),
        ("r3d-18", 4),
        ("mc3-18", 3),
        ("mc3-18", 4),
    ]
    assert cells[3].label == "mc3-18 (4)"
