"""Published figures as data: every measured number in README.md and docs/*.md is rendered
from a results file under docs/results/ into a marked fragment of its page.

    python benchmarks/publish.py               # render every fragment from its results file
    python benchmarks/publish.py --run NAME    # measure NAME again (until clean, at most 3 tries)
    python benchmarks/publish.py --run NAME --tries 1   # once, whatever its verdict
    python benchmarks/publish.py --run NAME --resume    # retry the last take's disturbed part
    python benchmarks/publish.py --check       # exit 1 if a page differs from what its files render
    python benchmarks/publish.py --list        # each fragment, its page, command and last cost

A fragment is declared once in docs/results/publish.toml: the page it sits in, the command that
measures it (`mtbench ...` or `python benchmarks/...`, run from the repository root as a
separate process, alone), the results file or store it writes, and how that file renders:

- `table`: a table a benchmark wrote with `--output` (`write_table`: mtbench.table_model's JSON
  with the threads and the verdict on its timings), as Markdown;
- `command`: what a read-only mtbench command prints over the file (`mtbench table DIR`, or
  `mtbench show FILE.json` for a record `mtbench profile --json` printed), at 112 columns.

A fragment with `view_of = "OTHER"` shows OTHER's results through another read-only command
(`--live` beside `--scenarios`): it has no command of its own, is measured with OTHER and
carries OTHER's provenance.

In the page a fragment is the text between `<!-- publish: NAME -->` and `<!-- /publish -->`.
`--run` records when, where, at which commit and how long each measurement took in
docs/results/provenance.json, with the verdict of its timings: a timing the verdict calls
disturbed is measured again, and a fragment whose timings stayed disturbed prints no number,
only that it did. Rendering never measures: `--check` runs as a test.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mtbench import numbers

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path("docs") / "results"
MANIFEST = RESULTS / "publish.toml"
PROVENANCE = RESULTS / "provenance.json"
PAGES = ("README.md", "docs/*.md")
MARKER = re.compile(r"<!-- publish: (?P<name>[\w.-]+) -->\n(?P<body>.*?)<!-- /publish -->", re.S)
RENDERS = ("table", "command")
WIDTH = "112"  # columns a console fragment is printed at, as in a terminal that wide
TRIES = 3  # measurements of one fragment before its timings are called disturbed for good
INDEX = "publish-index"  # the fragment listing every other one (docs/benchmarks.md)


@dataclass(frozen=True)
class Fragment:
    """One published figure: where it sits, how it is measured and how its file renders."""

    name: str
    page: str
    measure: str
    output: str
    render: str
    show: str = ""  # with render = "command": the read-only command, `{output}` its file
    stdout: bool = False  # the measuring command prints the results file (profile --json)
    retry: str = ""  # the command that re-times only what was disturbed (default: measure)
    fence: str = ""  # wrap the rendering in a code block of this language
    prompt: str = ""  # with fence = "console": the command shown before the output
    # A suite some of whose cells fail by design (their failure is a result, e.g. a toolchain
    # that cannot trace a model): `mtbench run` exits 1 then, which is not a failed take.
    failed_cells: bool = False
    # Another fragment whose results this one shows through its own `show`: measured with that
    # one (its command, output and take), never on its own (a second table of one suite).
    view_of: str = ""

    @property
    def taken_as(self) -> str:
        """The fragment whose take this one's figures come from: its own, or the viewed one's."""
        return self.view_of or self.name


class PublishError(Exception):
    """A manifest, page or results file that cannot be rendered: one line, exit 2."""


def write_table(
    path: str | os.PathLike[str],
    table: Any,
    threads: int | None,
    timings: list[tuple[str | None, list[str]]] = (),
) -> None:
    """A benchmark's results file: its table (mtbench.table_model) with the threads it ran on
    and the verdict on its timings, the worst of `timings` (verdict, reasons) pairs; none: the
    table times nothing."""
    from mtbench.report.frame import worst_verdict
    from mtbench.table_model import table_to_dict

    verdict = worst_verdict(v for v, _ in timings if v) or None
    reasons = sorted({why for v, said in timings if v == verdict for why in said})
    meta = {"threads": threads, "verdict": verdict, "reasons": reasons}
    data = {"meta": meta, "table": table_to_dict(table)}
    Path(path).write_text(json.dumps(data, indent=1) + "\n")


def load_manifest(root: Path = ROOT) -> dict[str, Fragment]:
    path = root / MANIFEST
    try:
        raw = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise PublishError(f"{MANIFEST}: {exc}") from exc
    fragments = {}
    for name, spec in raw.get("fragments", {}).items():
        where = f"{MANIFEST} [fragments.{name}]"
        unknown = set(spec) - set(Fragment.__dataclass_fields__)
        if unknown:
            allowed = ", ".join(f for f in Fragment.__dataclass_fields__ if f != "name")
            raise PublishError(f"{where}: unknown key {sorted(unknown)[0]!r}; allowed: {allowed}")
        if spec.get("render") not in RENDERS:
            raise PublishError(f"{where} render: {spec.get('render')!r}; one of {RENDERS}")
        if "view_of" in spec:
            continue
        missing = {"page", "measure", "output"} - set(spec)
        if missing:
            raise PublishError(f"{where}: missing {', '.join(sorted(missing))}")
        fragments[name] = Fragment(name=name, **spec)
    for name, spec in raw.get("fragments", {}).items():
        if "view_of" in spec:
            fragments[name] = _view(name, spec, fragments)
    return fragments


def _view(name: str, spec: dict[str, Any], measured: dict[str, Fragment]) -> Fragment:
    """A fragment that shows `view_of`'s results: it takes that one's command and output."""
    where = f"{MANIFEST} [fragments.{name}]"
    base = measured.get(spec["view_of"])
    if base is None:
        raise PublishError(
            f"{where} view_of: {spec['view_of']!r} is not a measured fragment;"
            f" one of {sorted(measured)}"
        )
    taken = {"measure", "retry", "output", "stdout", "failed_cells"} & set(spec)
    if taken:
        raise PublishError(f"{where}: {sorted(taken)[0]!r} comes from {base.name}; drop it")
    if spec.get("render") != "command" or "show" not in spec or "page" not in spec:
        raise PublishError(f'{where}: a view needs page, render = "command" and show')
    return Fragment(name=name, measure=base.measure, retry=base.retry, output=base.output, **spec)


def read_provenance(root: Path = ROOT) -> dict[str, dict[str, Any]]:
    path = root / PROVENANCE
    return json.loads(path.read_text()) if path.exists() else {}


def results_verdict(fragment: Fragment, root: Path = ROOT) -> tuple[str | None, list[str]]:
    """The verdict on the results' timings (None when nothing in them was timed) and why."""
    from mtbench.record import read_record, verdict_of
    from mtbench.report.frame import worst_verdict
    from mtbench.suite.store import latest_by_cell, read_records

    path = root / fragment.output
    if fragment.render == "table":
        meta = json.loads(path.read_text()).get("meta", {})
        return meta.get("verdict"), list(meta.get("reasons", []))
    if path.is_dir():  # each cell's latest successful record: what its table shows
        ok = [r for r in read_records(path) if r.get("status") == "ok"]
        records = list(latest_by_cell(ok).values())
    else:
        records = [json.loads(path.read_text())]
    said = [v for r in records if (v := verdict_of(read_record(r))) is not None]
    reasons = sorted(
        {
            why
            for r in records
            for k in ("latency_fwd_ms", "latency_fwdbwd_ms")
            for why in ((r.get(k) or {}).get("reasons") or [])
        }
    )
    return (worst_verdict(said) or None), reasons


def _run_mtbench(argv: list[str], root: Path) -> str:
    """A read-only mtbench command, in-process from `root`, and what it printed."""
    from mtbench.cli import console, main

    out, cwd, columns = io.StringIO(), Path.cwd(), os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = WIDTH
    # The console read COLUMNS when mtbench.cli was first imported (in a test run, before
    # this): its width is set here too, or a table takes the width of whatever ran first.
    width, console.width = console._width, int(WIDTH)
    os.chdir(root)
    try:
        with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
            main(argv)
    finally:
        console.width = width
        os.chdir(cwd)
        if columns is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = columns
    return "\n".join(line.rstrip() for line in out.getvalue().strip("\n").splitlines())


def render_results(fragment: Fragment, root: Path = ROOT) -> str:
    """What the fragment's results file shows, through mtbench's one table model."""
    from mtbench.table_model import table_from_dict, to_markdown

    if not (root / fragment.output).exists():
        raise PublishError(
            f"{fragment.name}: {fragment.output} is missing; measure it with"
            f" `python benchmarks/publish.py --run {fragment.name}`"
        )
    if fragment.render == "table":
        written = json.loads((root / fragment.output).read_text())
        text = to_markdown(table_from_dict(written["table"]))
    else:
        text = _run_mtbench(shlex.split(fragment.show.format(output=fragment.output))[1:], root)
    if fragment.prompt:
        text = f"$ {fragment.prompt}\n{text}"
    return f"```{fragment.fence}\n{text}\n```" if fragment.fence else text


def provenance_line(fragment: Fragment, said: dict[str, Any]) -> str:
    verdict = said.get("verdict") or "nothing timed"
    return (
        f"<sub>Measured {said['date']} on {said['machine']}, {said['threads']}, at commit"
        f" {said['commit']}; timing verdict: {verdict}; took {numbers.duration(said['took_s'])}."
        f" Re-take: `python benchmarks/publish.py --run {fragment.taken_as}`.</sub>"
    )


def render_fragment(fragment: Fragment, provenance: dict[str, Any], root: Path = ROOT) -> str:
    said = provenance.get(fragment.taken_as)
    if said is None:
        raise PublishError(
            f"{fragment.name}: never measured; run"
            f" `python benchmarks/publish.py --run {fragment.taken_as}`"
        )
    if said.get("verdict") == "disturbed":
        why = "; ".join(said.get("reasons") or []) or "the verdict said disturbed"
        return (
            f"*Not published: {_measurements(said['tries'], said['date'])} disturbed"
            f" ({why}), so no figure is shown as a result.* Re-take it alone:"
            f" `python benchmarks/publish.py --run {fragment.taken_as}`."
        )
    return f"{render_results(fragment, root)}\n\n{provenance_line(fragment, said)}"


def _measurements(tries: int, date: str) -> str:
    if tries == 1:
        return f"the one measurement on {date} was"
    return f"all {tries} measurements on {date} were"


def render_index(fragments: dict[str, Fragment], provenance: dict[str, Any]) -> str:
    """Every fragment, its page, the command that measures it and what a re-take costs."""
    from mtbench.table_model import Column, TextTable, to_markdown

    table = TextTable(
        [Column(h, "left") for h in ("fragment", "page", "measured by")]
        + [Column("took"), Column("verdict", "left"), Column("date", "left")]
    )
    for name, fragment in sorted(fragments.items()):
        said = provenance.get(fragment.taken_as, {})
        took = numbers.duration(said["took_s"]) if said else None
        table.rows.append(
            [
                name,
                fragment.page,
                f"with {fragment.view_of}" if fragment.view_of else f"`{fragment.measure}`",
                took,
                said.get("verdict") or ("nothing timed" if said else None),
                said.get("date"),
            ]
        )
    return to_markdown(table)


def page_paths(root: Path = ROOT) -> list[Path]:
    return sorted(p for pattern in PAGES for p in root.glob(pattern))


def rendered_pages(root: Path = ROOT) -> dict[Path, tuple[str, str]]:
    """Each page with a fragment: its text now and its text with every fragment rendered."""
    fragments, provenance = load_manifest(root), read_provenance(root)
    seen: dict[str, str] = {}
    out = {}
    for path in page_paths(root):
        text = path.read_text()
        page = str(path.relative_to(root))

        def fill(match: re.Match[str], page: str = page) -> str:
            name = match["name"]
            if name == INDEX:
                body = render_index(fragments, provenance)
            elif name not in fragments:
                raise PublishError(f"{page}: fragment {name!r} is not in {MANIFEST}")
            elif fragments[name].page != page:
                raise PublishError(f"{page}: fragment {name!r} belongs to {fragments[name].page}")
            else:
                body = render_fragment(fragments[name], provenance, root)
            if name in seen:
                raise PublishError(f"{page}: fragment {name!r} appears twice")
            seen[name] = page
            return f"<!-- publish: {name} -->\n{body}\n<!-- /publish -->"

        new = MARKER.sub(fill, text)
        if new != text or MARKER.search(text):
            out[path] = (text, new)
    absent = sorted(set(fragments) - set(seen))
    if absent:
        raise PublishError(f"{MANIFEST}: no page has the fragment(s) {', '.join(absent)}")
    return out


def check(root: Path = ROOT) -> list[str]:
    """The pages whose fragments differ from what their files render (none: all is data)."""
    return [
        str(p.relative_to(root)) for p, (now, new) in rendered_pages(root).items() if now != new
    ]


def write(root: Path = ROOT) -> list[str]:
    changed = []
    for path, (now, new) in rendered_pages(root).items():
        if now != new:
            path.write_text(new)
            changed.append(str(path.relative_to(root)))
    return changed


def _argv(command: str, output: str) -> list[str]:
    """A manifest command as this interpreter runs it: `mtbench` and `python` are ours."""
    words = shlex.split(command.format(output=output))
    if words[0] == "mtbench":
        return [sys.executable, "-m", "mtbench", *words[1:]]
    if words[0] == "python":
        return [sys.executable, *words[1:]]
    raise PublishError(f"{MANIFEST}: a command starts with mtbench or python, not {words[0]!r}")


def _measure_once(fragment: Fragment, command: str, root: Path) -> None:
    argv = _argv(command, fragment.output)
    print(f"publish: {fragment.name}: {shlex.join(argv)}", file=sys.stderr)
    (root / fragment.output).parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        argv, cwd=root, text=True, stdout=subprocess.PIPE if fragment.stdout else None
    )
    if done.returncode not in ((0, 1) if fragment.failed_cells else (0,)):
        raise PublishError(f"{fragment.name}: `{command}` exited {done.returncode}")
    if fragment.stdout:
        (root / fragment.output).write_text(done.stdout)


def measure(
    fragment: Fragment, root: Path = ROOT, bound: int = TRIES, last: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Measure afresh (the old results file or store goes first, so a suite re-runs every
    cell), then until the verdict is not disturbed, at most `bound` times; what and how it ran.
    With `last` (the provenance of the take whose results are there), go on with that take
    instead: its retry command, its tries and time counted on."""
    if last is None:
        old = root / fragment.output
        if old.is_dir():
            shutil.rmtree(old)
        old.unlink(missing_ok=True)
        done, spent, load = 0, 0.0, os.getloadavg()[0]
    else:
        done, spent, load = last["tries"], last["took_s"], last["load_before"]
    start = time.perf_counter()
    for tries in range(done + 1, done + bound + 1):
        _measure_once(
            fragment, fragment.measure if tries == 1 else fragment.retry or fragment.measure, root
        )
        verdict, reasons = results_verdict(fragment, root)
        if verdict != "disturbed":
            break
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "machine": f"{_cpu_name()} ({os.cpu_count()} cores)",
        "threads": _threads(fragment, root),
        "commit": _commit(root),
        "load_before": round(load, 2),
        "took_s": round(spent + time.perf_counter() - start, 1),
        "tries": tries,
        "verdict": verdict,
        "reasons": reasons,
    }


def _threads(fragment: Fragment, root: Path) -> str:
    path = root / fragment.output
    if fragment.render == "table":
        found = {json.loads(path.read_text()).get("meta", {}).get("threads")}
    elif path.is_dir():
        from mtbench.suite.store import read_records

        found = {r.get("threads") for r in read_records(path)}
    else:
        found = {json.loads(path.read_text()).get("threads")}
    found.discard(None)
    return ", ".join(f"{n} thread{'s' * (n != 1)}" for n in sorted(found)) or "threads not said"


def _cpu_name() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _commit(root: Path) -> str:
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
        return done.stdout.strip()

    commit = git("rev-parse", "--short=10", "HEAD") or "no git"
    dirty = git("status", "--porcelain", "--untracked-files=no", "--", "mtbench", "baselines")
    return f"{commit} (with uncommitted changes to mtbench)" if dirty else commit


def main_at(root: Path, argv: list[str]) -> int:
    """The command over the pages and results under `root`: 0, 1 (a stale page), 2 (bad input)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", nargs="+", metavar="NAME", help="measure these again first")
    parser.add_argument("--tries", type=int, default=TRIES, help="with --run: at most this many")
    parser.add_argument(
        "--resume", action="store_true", help="with --run: go on with the last take's results"
    )
    parser.add_argument("--check", action="store_true", help="exit 1 if a page is not rendered")
    parser.add_argument("--list", action="store_true", help="print every fragment and exit")
    args = parser.parse_args(argv)
    try:
        fragments = load_manifest(root)
        if args.list:
            print(render_index(fragments, read_provenance(root)))
            return 0
        if args.check:
            stale = check(root)
            for page in stale:
                print(f"publish: {page} differs from what docs/results renders", file=sys.stderr)
            return 1 if stale else 0
        unknown = [name for name in args.run or [] if name not in fragments]
        if unknown:
            known = sorted(fragments)
            raise PublishError(f"--run {unknown[0]!r}: not in {MANIFEST}; one of {known}")
        views = [name for name in args.run or [] if fragments[name].view_of]
        if views:
            base = fragments[views[0]].view_of
            raise PublishError(
                f"--run {views[0]!r}: a view of {base}, measured with it; --run {base}"
            )
        provenance = read_provenance(root)
        for name in args.run or []:
            last = provenance.get(name) if args.resume else None
            if args.resume and last is None:
                raise PublishError(f"--resume {name!r}: it has no take to go on with; --run it")
            provenance[name] = measure(fragments[name], root, max(args.tries, 1), last)
            (root / PROVENANCE).write_text(json.dumps(provenance, indent=2, sort_keys=True) + "\n")
        for page in write(root):
            print(f"publish: rendered {page}", file=sys.stderr)
    except PublishError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main_at(ROOT, sys.argv[1:]))
