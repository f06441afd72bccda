"""benchmarks/publish.py: every published figure is rendered from a results file, a page edited
by hand fails the check, a disturbed measurement prints no number, a re-take stops at a bound."""

from __future__ import annotations

import json
import shutil
import sys
import textwrap
from pathlib import Path

import pytest

from mtbench.table_model import Column, Figure, TextTable, table_to_dict, to_markdown

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import publish  # noqa: E402

TABLE = TextTable(
    [Column("model", "left"), Column("fwd (ms)")],
    [["r3d-18", Figure(411.237, "411.24")], ["mtnet-32", None]],
    footnotes=["a note"],
)
SAID = {
    "date": "2026-12-06",
    "machine": "Test CPU (2 cores)",
    "threads": "2 threads",
    "commit": "abc",
    "took_s": 75.0,
    "tries": 1,
    "verdict": "clean",
    "reasons": [],
}


def make_root(tmp_path: Path, manifest: str, pages: dict[str, str], said: dict | None) -> Path:
    (tmp_path / "docs" / "results").mkdir(parents=True)
    (tmp_path / publish.MANIFEST).write_text(textwrap.dedent(manifest))
    for name, text in pages.items():
        (tmp_path / name).write_text(text)
    if said is not None:
        (tmp_path / publish.PROVENANCE).write_text(json.dumps(said))
    return tmp_path


TABLE_MANIFEST = """
    [fragments.latency]
    page = "README.md"
    measure = "python benchmarks/x.py --output {output}"
    output = "docs/results/latency.json"
    render = "table"
"""
EMPTY = "intro\n<!-- publish: latency -->\n<!-- /publish -->\nend\n"


@pytest.fixture
def table_root(tmp_path: Path) -> Path:
    root = make_root(tmp_path, TABLE_MANIFEST, {"README.md": EMPTY}, {"latency": SAID})
    data = {"meta": {"verdict": "clean", "threads": 2}, "table": table_to_dict(TABLE)}
    (root / "docs/results/latency.json").write_text(json.dumps(data))
    return root


def test_the_repository_pages_are_what_their_results_files_render():
    assert publish.check(ROOT) == []


def test_a_table_fragment_is_the_table_as_written_with_where_it_was_measured(table_root):
    assert publish.check(table_root) == ["README.md"]
    assert publish.write(table_root) == ["README.md"]
    page = (table_root / "README.md").read_text()
    body = page.split("<!-- publish: latency -->\n")[1].split("<!-- /publish -->")[0]
    assert body.startswith(to_markdown(TABLE) + "\n\n<sub>Measured 2026-12-06 on Test CPU")
    assert "commit abc; timing verdict: clean; took 1 min 15 s" in body
    assert page.startswith("intro\n") and page.endswith("<!-- /publish -->\nend\n")
    assert publish.check(table_root) == []


def test_a_fragment_edited_by_hand_fails_the_check(table_root):
    publish.write(table_root)
    page = table_root / "README.md"
    page.write_text(page.read_text().replace("411.24", "401.24"))
    assert publish.check(table_root) == ["README.md"]
    assert publish.main_at(table_root, ["--check"]) == 1


def test_the_repository_check_fails_on_a_hand_edit(tmp_path):
    """The real pages, copied: one digit changed inside one fragment is found."""
    for path in [ROOT / "README.md", *ROOT.glob("docs/*.md")]:
        target = tmp_path / path.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
    # The stores' cells/ (checkpoints, exports) are not in git and not read: a take leaves GBs.
    results = ROOT / "docs" / "results"
    shutil.copytree(results, tmp_path / "docs/results", ignore=shutil.ignore_patterns("cells"))
    readme = tmp_path / "README.md"
    text = readme.read_text()
    marker = publish.MARKER.search(text)
    inside = marker.start("body")
    readme.write_text(text[:inside] + "edited by hand " + text[inside:])
    assert publish.check(tmp_path) == ["README.md"]


def test_a_disturbed_measurement_prints_no_number(table_root):
    said = dict(SAID, verdict="disturbed", tries=3, reasons=["repeats' cv 0.39 > 0.1"])
    (table_root / publish.PROVENANCE).write_text(json.dumps({"latency": said}))
    publish.write(table_root)
    body = (table_root / "README.md").read_text().split("<!-- publish: latency -->")[1]
    assert "Not published: all 3 measurements on 2026-12-06 were disturbed" in body
    assert "repeats' cv 0.39 > 0.1" in body and "411" not in body


@pytest.mark.parametrize(
    ("manifest", "pages", "message"),
    [
        (TABLE_MANIFEST.replace("render", "shown"), {}, "unknown key 'shown'; allowed: page,"),
        (TABLE_MANIFEST.replace('"table"', '"chart"'), {}, "render: 'chart'; one of"),
        (TABLE_MANIFEST, {"README.md": "none here\n"}, "no page has the fragment(s) latency"),
        (TABLE_MANIFEST, {"README.md": EMPTY * 2}, "fragment 'latency' appears twice"),
        (TABLE_MANIFEST, {"README.md": EMPTY.replace("latency", "other")}, "'other' is not in"),
    ],
)
def test_bad_manifests_and_pages_are_one_line(tmp_path, manifest, pages, message, capsys):
    root = make_root(tmp_path, manifest, pages, {"latency": SAID})
    (root / "docs/results/latency.json").write_text(json.dumps({"table": table_to_dict(TABLE)}))
    assert publish.main_at(root, ["--check"]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_a_fragment_never_measured_names_the_command(tmp_path, capsys):
    root = make_root(tmp_path, TABLE_MANIFEST, {"README.md": EMPTY}, None)
    assert publish.main_at(root, ["--check"]) == 2
    assert "run `python benchmarks/publish.py --run latency`" in capsys.readouterr().err
    assert publish.main_at(root, ["--run", "latency", "--resume"]) == 2
    assert "--resume 'latency': it has no take to go on with" in capsys.readouterr().err


BENCH = """
import json, sys
from pathlib import Path
count = Path(sys.argv[2] + ".count")
n = int(count.read_text()) + 1 if count.exists() else 1
count.write_text(str(n))
verdict = "clean" if n >= CLEAN_AT else "disturbed"
meta = {"verdict": verdict, "reasons": [f"try {n}"], "threads": 1}
table = {"columns": [{"header": "try", "align": "right"}], "rows": [[n]]}
Path(sys.argv[2]).write_text(json.dumps({"meta": meta, "table": table}))
"""


@pytest.mark.parametrize(("clean_at", "tries", "verdict"), [(2, 2, "clean"), (9, 3, "disturbed")])
def test_a_retake_measures_until_clean_with_a_bound(tmp_path, clean_at, tries, verdict):
    root = make_root(tmp_path, TABLE_MANIFEST, {"README.md": EMPTY}, None)
    (root / "benchmarks").mkdir()
    (root / "benchmarks/x.py").write_text(BENCH.replace("CLEAN_AT", str(clean_at)))
    assert publish.main_at(root, ["--run", "latency"]) == 0
    said = json.loads((root / publish.PROVENANCE).read_text())["latency"]
    assert (said["tries"], said["verdict"], said["threads"]) == (tries, verdict, "1 thread")
    page = (root / "README.md").read_text()
    assert (f"|     {tries} |" in page) == (verdict == "clean")
    assert publish.check(root) == []
    if verdict == "disturbed":  # --resume goes on with the take: tries and time add up
        assert publish.main_at(root, ["--run", "latency", "--resume", "--tries", "9"]) == 0
        again = json.loads((root / publish.PROVENANCE).read_text())["latency"]
        assert (again["tries"], again["verdict"]) == (clean_at, "clean")
        assert (
            again["took_s"] >= said["took_s"]
            and f"|     {clean_at} |" in (root / "README.md").read_text()
        )


def test_run_names_an_unknown_fragment(table_root, capsys):
    assert publish.main_at(table_root, ["--run", "latenc"]) == 2
    assert "--run 'latenc': not in docs/results/publish.toml; one of ['latency']" in (
        capsys.readouterr().err
    )


def test_a_benchmark_table_carries_the_worst_verdict_of_its_timings(tmp_path):
    timings = [("clean", []), ("disturbed", ["cv 0.2 > 0.1"]), ("unknown", ["no /proc"])]
    publish.write_table(tmp_path / "t.json", TABLE, 2, timings)
    written = json.loads((tmp_path / "t.json").read_text())
    assert written["meta"] == {"threads": 2, "verdict": "disturbed", "reasons": ["cv 0.2 > 0.1"]}
    publish.write_table(tmp_path / "c.json", TABLE, None)
    assert json.loads((tmp_path / "c.json").read_text())["meta"]["verdict"] is None


def test_the_readme_commands_benchmark_runs_what_ci_runs():
    """benchmarks/readme_commands.py times README command 2, the line .ci/run ends with."""
    import readme_commands

    commands = readme_commands.readme_commands()
    assert set(commands) == {"1", "2"}
    assert (ROOT / ".ci" / "run").read_text().rstrip().endswith(commands["2"])
    output = (
        "SKIPPED [3] tests/a.py:9: no GPU\nSKIPPED [2] tests/b.py:4: no GPU\nSKIPPED [1] c.py:1: x"
    )
    assert readme_commands.skip_reasons(output) == ["5 skipped: no GPU", "1 skipped: x"]


def test_a_retake_starts_from_no_results(tmp_path):
    """A store or file left from an earlier take is gone before the first try (a suite would
    otherwise skip every cell it already measured)."""
    root = make_root(tmp_path, TABLE_MANIFEST, {"README.md": EMPTY}, None)
    (root / "benchmarks").mkdir()
    fresh = "import sys\nfrom pathlib import Path\nassert not Path(sys.argv[2]).exists()\n"
    (root / "benchmarks/x.py").write_text(fresh + BENCH.replace("CLEAN_AT", "1"))
    (root / "docs/results/latency.json").write_text("left from an earlier take")
    assert publish.main_at(root, ["--run", "latency"]) == 0
    assert (
        json.loads((root / "docs/results/latency.json").read_text())["meta"]["verdict"] == "clean"
    )


VIEW_MANIFEST = """
    [fragments.profile]
    page = "README.md"
    measure = "mtbench profile r3d-18 --json"
    stdout = true
    output = "docs/results/profile.json"
    render = "command"
    show = "mtbench show {output}"
    fence = "console"

    [fragments.ops]
    page = "README.md"
    view_of = "profile"
    render = "command"
    show = "mtbench show {output} --by op"
    prompt = "mtbench show profile.json --by op"
    fence = "console"
"""
VIEW_PAGE = EMPTY.replace("latency", "profile") + EMPTY.replace("latency", "ops")


def test_a_view_shows_another_fragments_take_through_its_own_command(tmp_path, capsys):
    """One take, two tables (`--scenarios` and `--live` of one suite): the view renders the
    measured fragment's output with its own command, carries that take's provenance and
    re-take command, and is never measured on its own."""
    root = make_root(tmp_path, VIEW_MANIFEST, {"README.md": VIEW_PAGE}, {"profile": SAID})
    shutil.copy(ROOT / "docs/results/readme-profile.json", root / "docs/results/profile.json")
    fragments = publish.load_manifest(root)
    assert fragments["ops"].output == fragments["profile"].output
    assert fragments["ops"].measure == fragments["profile"].measure
    assert publish.write(root) == ["README.md"]
    page = (root / "README.md").read_text()
    view = page.split("<!-- publish: ops -->\n")[1].split("<!-- /publish -->")[0]
    assert view.startswith("```console\n$ mtbench show profile.json --by op\n")
    assert "latency fwd / clip" in view
    assert view.rstrip().endswith("Re-take: `python benchmarks/publish.py --run profile`.</sub>")
    assert publish.check(root) == []
    assert publish.main_at(root, ["--run", "ops"]) == 2
    assert "--run 'ops': a view of profile, measured with it; --run profile" in (
        capsys.readouterr().err
    )
    assert "| ops " in publish.render_index(fragments, {"profile": SAID})
    assert "with profile" in publish.render_index(fragments, {"profile": SAID})


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (('view_of = "profile"', 'view_of = "profil"'), "view_of: 'profil' is not a measured"),
        (('view_of = "profile"', 'view_of = "profile"\nmeasure = "x"'), "'measure' comes from"),
        (('show = "mtbench show {output} --by op"', ""), 'a view needs page, render = "command"'),
    ],
)
def test_a_bad_view_is_one_line(tmp_path, capsys, edit, message):
    manifest = textwrap.dedent(VIEW_MANIFEST).replace(*edit)
    root = make_root(tmp_path, manifest, {"README.md": VIEW_PAGE}, {"profile": SAID})
    assert publish.main_at(root, ["--check"]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
