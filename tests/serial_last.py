"""The xdist scheduler of the suite: tests run across the workers, and the tests marked
`serial` (they time something, or judge whether the machine was quiet) run last, on one
worker, once every other worker has finished its tests. A timing test so never shares the
cores with another test, which would make its verdict `disturbed` and the test flaky; it
still shares them with whatever else runs on the machine, as in a single-process run.

The controller sees only test ids, never markers, and xdist's own `xdist_group` does not
reach it under pytest 9 (the id it rewrites is gone); so each worker writes the ids of its
`serial` tests, and of the tests in an `xdist_group` (which run together on one worker), to a
file the controller named before it reports its collection, and the scheduler reads them
when it schedules. The same lists name the `slow` tests: units holding one are handed out
before the others (longest first, as a makespan schedule does), so the quick tests fill the
end of the run instead of one worker idling behind a long test that started late.
conftest.py registers this plugin when pytest-xdist is there; `--dist loadgroup` (pyproject's
addopts) selects the scheduler."""

import shutil
import tempfile
from pathlib import Path

import pytest
from xdist.scheduler import LoadGroupScheduling

SERIAL = "serial"
SLOW = "slow"
LISTS = "serial_lists"  # the workerinput key: the folder the workers write their lists to


class SerialLastScheduling(LoadGroupScheduling):
    """loadgroup with the `serial` tests as one unit, sent once it is the only work left and
    every other worker is done. A worker runs its last test only when it gets more work or is
    told to stop, so the others are told to stop (they finish their last tests and leave) and
    the worker that asked gets the unit when the last of them has finished."""

    def __init__(self, config: pytest.Config, log, lists: Path) -> None:
        super().__init__(config, log)
        self.lists = lists
        self.groups: dict[str, str] | None = None  # test id -> its group
        self.slow: set[str] = set()  # the units (groups or single tests) holding a slow test
        self.waiting = None  # the worker the serial unit goes to

    def _split_scope(self, nodeid: str) -> str:
        if self.groups is None:  # every worker has written its list once collection is done
            lines = (line for f in self.lists.glob("*.txt") for line in f.read_text().split("\n"))
            rows = [line.split("\t") for line in lines if line]
            self.groups = {nodeid: group for nodeid, group, _ in rows if group}
            slow = {self.groups.get(nodeid, nodeid) for nodeid, _, speed in rows if speed == SLOW}
            self.slow = slow - {SERIAL}
        return self.groups.get(nodeid, nodeid)

    def _busy_others(self, node) -> list:
        return [
            n for n, work in self.assigned_work.items() if n is not node and self._pending_of(work)
        ]

    def _assign_work_unit(self, node) -> None:
        scope = next((s for s in self.workqueue if s in self.slow), None)
        scope = scope or next((s for s in self.workqueue if s != SERIAL), None)
        if scope is None:
            busy = self._busy_others(node)
            if busy:
                for other in busy:
                    if not other.shutting_down:
                        other.shutdown()
                self.waiting = node
                return
            scope = SERIAL
        work_unit = self.workqueue.pop(scope)
        self.assigned_work.setdefault(node, {})[scope] = work_unit
        collection = self.registered_collections[node]
        node.send_runtest_some(
            [collection.index(nodeid) for nodeid, done in work_unit.items() if not done]
        )

    def mark_test_complete(self, node, item_index: int, duration: float = 0) -> None:
        super().mark_test_complete(node, item_index, duration)
        waiting = self.waiting
        if waiting is not None and SERIAL in self.workqueue and not self._busy_others(waiting):
            self._assign_work_unit(waiting)


def _group(item: pytest.Item) -> str | None:
    """SERIAL for a `serial` test, else the name of its `xdist_group` (tests sharing an
    expensive module-scoped fixture build it once), else None."""
    if item.get_closest_marker(SERIAL):
        return SERIAL
    mark = item.get_closest_marker("xdist_group")
    return None if mark is None else str(mark.args[0] if mark.args else mark.kwargs["name"])


class SerialLast:
    """The plugin, in the controller and in each worker."""

    def __init__(self, config: pytest.Config) -> None:
        controller = not hasattr(config, "workerinput") and config.getvalue("dist") == "loadgroup"
        self.lists = Path(tempfile.mkdtemp(prefix="mtbench-serial-")) if controller else None

    def pytest_xdist_make_scheduler(self, config: pytest.Config, log):
        if self.lists is None:
            return None
        return SerialLastScheduling(config, log, self.lists)

    def pytest_configure_node(self, node) -> None:
        if self.lists is not None:
            node.workerinput[LISTS] = str(self.lists)

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, config: pytest.Config, items) -> None:
        folder = getattr(config, "workerinput", {}).get(LISTS)
        if folder is None:
            return
        rows = (
            (i.nodeid, _group(i) or "", SLOW if i.get_closest_marker(SLOW) else "") for i in items
        )
        ids = "\n".join("\t".join(row) for row in rows if row[1] or row[2])
        part = Path(folder) / f"{config.workerinput['workerid']}.part"
        part.write_text(ids)
        part.rename(part.with_suffix(".txt"))

    def pytest_unconfigure(self) -> None:
        if self.lists is not None:
            shutil.rmtree(self.lists, ignore_errors=True)
