"""The README's two commands, exactly as written, on a fresh clone: how long each part takes and,
for the tests, what pytest concluded and why tests skipped; after command 2, the development
loop (`pytest -m "not slow"`, docs/testing.md) in the same clone.

    python benchmarks/readme_commands.py --commands 1 2 --output docs/results/readme-commands.json

Each command is read from the README's Quick start block (the line after `# 1.` or `# 2.`),
split at ` && ` into its parts, and run part after part in one fresh `git clone` of this
checkout's HEAD, in bash, as a newcomer would. pip's cache is whatever this machine has. A
whole command uses every core, so its verdict is about the others: the CPU time other processes
took during it (the machine's busy time less this command's children) over the cores' time;
more than `OTHERS_CORES_MARGIN` of a core on average and its times are disturbed.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from publish import ROOT, write_table

from mtbench import numbers
from mtbench.measure.contention import OTHERS_CORES_MARGIN, cores, snapshot
from mtbench.table_model import Column, TextTable

COMMAND_LINE = re.compile(r"^# (?P<n>\d)\. .*\n(?P<command>.+)$", re.M)
PYTEST_SUMMARY = re.compile(r"^=* ?(?P<summary>\d+ passed.*) in [\d.]+s", re.M)
DEVELOPMENT_LOOP = '.venv/bin/python -m pytest -m "not slow"'
FAILED_LINE = re.compile(r"^(?:FAILED|ERROR) .+$", re.M)
SKIP_LINE = re.compile(r"^SKIPPED \[(?P<count>\d+)\] [^:]+:\d+: (?P<why>.+)$", re.M)


def readme_commands(readme: Path = ROOT / "README.md") -> dict[str, str]:
    return {m["n"]: m["command"].strip() for m in COMMAND_LINE.finditer(readme.read_text())}


def run_part(part: str, clone: Path) -> tuple[float, str, float, str]:
    """Wall seconds, output, other processes' share of the cores, and what pytest concluded."""
    before, children = snapshot(), resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    # The skip reasons and the failures' names; the command itself is unchanged.
    env = dict(os.environ, PYTEST_ADDOPTS="-rfEs")
    done = subprocess.run(
        ["bash", "-c", part], cwd=clone, env=env, text=True, capture_output=True, check=False
    )
    wall = time.perf_counter() - start
    after, used = snapshot(), resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        failed = "\n".join(FAILED_LINE.findall(done.stdout))
        tail = f"{done.stdout[-3000:]}{done.stderr[-3000:]}"
        sys.exit(f"`{part}` exited {done.returncode}:\n{tail}\n{failed}")
    own = (used.ru_utime + used.ru_stime) - (children.ru_utime + children.ru_stime)
    hz = os.sysconf("SC_CLK_TCK")
    busy = (after.busy - before.busy) / hz if before.busy is not None else 0.0
    others = max(busy - own, 0.0) / (wall * cores())
    found = PYTEST_SUMMARY.search(done.stdout)
    return wall, done.stdout, others, found["summary"] if found else ""


def skip_reasons(output: str) -> list[str]:
    counted: Counter[str] = Counter()
    for m in SKIP_LINE.finditer(output):
        counted[m["why"].strip()] += int(m["count"])
    return [f"{n} skipped: {why}" for why, n in counted.most_common()]


def measure(which: list[str]) -> tuple[TextTable, list[tuple[str, list[str]]]]:
    commands = readme_commands()
    table = TextTable(
        [Column("README command", "left"), Column("part", "left"), Column("wall")]
        + [Column("others' share of the cores"), Column("concluded", "left")]
    )
    timings = []
    with tempfile.TemporaryDirectory() as tmp:
        clone = Path(tmp) / "mtbench"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        for n in which:
            parts = commands[n].split(" && ")
            if n == "2":  # then the development loop, in the same clone (docs/testing.md)
                parts.append(DEVELOPMENT_LOOP)
            for part in parts:
                wall, output, others, concluded = run_part(part, clone)
                disturbed = others * cores() > OTHERS_CORES_MARGIN
                why = f"others used {others * cores():.2f} of {cores()} cores"
                timings.append(("disturbed" if disturbed else "clean", [why] if disturbed else []))
                shown = numbers.marked(numbers.duration(wall), disturbed)
                table.rows.append([n, f"`{part}`", shown, numbers.percent(others), concluded])
                if part != DEVELOPMENT_LOOP:  # the same skips again, fewer
                    table.footnotes += [f"command {n}: {why}" for why in skip_reasons(output)]
    return table, timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--commands", nargs="+", choices=["1", "2"], default=["1", "2"])
    parser.add_argument("--output", help="write the results file (benchmarks/publish.py)")
    args = parser.parse_args()
    table, timings = measure(args.commands)
    if args.output:
        write_table(args.output, table, None, timings)
    from mtbench.table_model import to_markdown

    print(to_markdown(table))


if __name__ == "__main__":
    main()
