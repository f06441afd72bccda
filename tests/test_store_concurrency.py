"""The store with many writers at once: every process writes a file of its own, so nothing
rests on O_APPEND being atomic (NFS and Lustre do not promise it); readers merge the files
with an old single-file store; `merge` compacts them."""

import json
import multiprocessing as mp

from mtbench.suite.store import (
    STORE_FILE,
    WRITERS_DIR,
    append_record,
    find_stores,
    latest_by_cell,
    read_records,
    read_store,
    store_files,
    write_records,
)

WRITERS, RECORDS = 8, 50


def _write(folder: str, writer: int, start: mp.Barrier) -> None:
    start.wait()  # all writers append at the same moment
    for i in range(RECORDS):
        # Records of 8-40 KiB: larger than a pipe buffer or a page, as a record with a
        # training curve can be, so a shared file would risk interleaved writes.
        pad = "x" * (8192 * (1 + (writer + i) % 5))
        append_record(folder, {"cell_key": f"{writer}-{i}", "writer": writer, "pad": pad})


def test_eight_processes_fifty_records_each_lose_none_tear_none_duplicate_none(tmp_path):
    ctx = mp.get_context("spawn")
    start = ctx.Barrier(WRITERS)
    procs = [ctx.Process(target=_write, args=(str(tmp_path), w, start)) for w in range(WRITERS)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=120)
        assert proc.exitcode == 0
    contents = read_store(tmp_path)
    assert contents.unreadable == 0
    keys = [r["cell_key"] for r in contents.records]
    assert len(keys) == WRITERS * RECORDS == len(set(keys))
    assert set(keys) == {f"{w}-{i}" for w in range(WRITERS) for i in range(RECORDS)}
    # No file has two writers: the guarantee does not depend on the filesystem.
    files = store_files(tmp_path)
    assert len(files) == WRITERS
    for path in files:
        writers = {json.loads(line)["writer"] for line in path.read_text().splitlines()}
        assert len(writers) == 1
        # each writer's records in the order it wrote them
        order = [int(json.loads(line)["cell_key"].split("-")[1]) for line in path.open()]
        assert order == list(range(RECORDS))


def test_an_old_single_file_store_reads_first_then_the_writers_files(tmp_path):
    old = [{"cell_key": "a", "status": "failed"}, {"cell_key": "b", "status": "ok"}]
    (tmp_path / STORE_FILE).write_text("".join(json.dumps(r) + "\n" for r in old))
    assert read_records(tmp_path) == old
    append_record(tmp_path, {"cell_key": "a", "status": "ok"})
    latest = latest_by_cell(read_records(tmp_path))
    assert latest["a"]["status"] == "ok" and list(latest) == ["a", "b"]
    assert find_stores(tmp_path) == [tmp_path]


def test_a_store_of_writers_files_alone_is_found_and_merge_compacts_it(tmp_path, cli_inproc):
    store = tmp_path / "reports" / "s"
    for key in ("a", "b"):
        append_record(store, {"cell_key": key, "status": "ok", "finished_at": "2026"})
    assert find_stores(tmp_path / "reports") == [store]
    assert cli_inproc("show", str(store)).returncode == 0
    result = cli_inproc("merge", str(store))
    assert result.returncode == 0, result.stderr
    assert [p.name for p in store_files(store)] == [STORE_FILE]
    assert [r["cell_key"] for r in read_records(store)] == ["a", "b"]


def test_rewriting_keeps_a_writers_file_that_grew_meanwhile(tmp_path):
    append_record(tmp_path, {"cell_key": "a", "v": 1})
    (grower,) = (tmp_path / WRITERS_DIR).iterdir()

    def records():
        yield {"cell_key": "a", "v": 1}
        with open(grower, "a") as fh:  # another job appends while the store is rewritten
            fh.write(json.dumps({"cell_key": "b", "v": 2}) + "\n")

    write_records(tmp_path, records())
    assert grower.exists()
    assert {r["cell_key"] for r in read_records(tmp_path)} == {"a", "b"}
