"""The house's layering: no import circles (counting imports inside functions too) and no
arrow from the core package into the baselines that depend on it."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("mtbench", "baselines")


def module_files() -> dict[str, Path]:
    files = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            files[name] = path
    return files


def imported_modules(path: Path, name: str, known: dict[str, Path]) -> set[str]:
    """Every project module `path` imports, at module level or inside a function."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for target in targets:
            # `from pkg import module` names a module; `from module import name` the module.
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    known = module_files()
    return {name: imported_modules(path, name, known) for name, path in known.items()}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_circles():
    assert circles(import_graph()) == []


def test_the_core_never_imports_the_baselines():
    graph = import_graph()
    upward = {
        (name, target)
        for name, targets in graph.items()
        if name.split(".")[0] == "mtbench"
        for target in targets
        if target.split(".")[0] == "baselines"
    }
    assert upward == set()


def test_a_new_circle_is_caught():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert circles(graph) == [["a", "b", "c"]]


LAYERS_DOC = ROOT / "docs" / "architecture.md"
MAX_FUNCTION_LINES = 60


def layer_table() -> dict[str, int]:
    """docs/architecture.md's layer table: each path (relative to mtbench/, or baselines/...)
    with its layer number."""
    text = LAYERS_DOC.read_text(encoding="utf-8")
    section = text.split("## The layers, bottom to top", 1)[1].split("\n## ", 1)[0]
    table: dict[str, int] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and cells[0].isdigit():
            for path in cells[1].split(","):
                table[path.strip().strip("`")] = int(cells[0])
    return table


def module_path(name: str) -> str:
    """A module's path as the table writes it: `measure/profile.py`, `baselines/x3d.py`."""
    path = module_files()[name].relative_to(ROOT).as_posix()
    return path.removeprefix("mtbench/")


def layer_of(name: str, table: dict[str, int]) -> tuple[str, int]:
    """The table's most specific entry for module `name` and its layer."""
    path = module_path(name)
    matches = []
    for entry, layer in table.items():
        if entry.startswith("*/"):
            hit = path.count("/") == 1 and path.endswith(entry[1:])
            matches.append((2, entry, layer)) if hit else None
        elif entry.endswith("/"):
            matches.append((1, entry, layer)) if path.startswith(entry) else None
        elif path == entry:
            matches.append((3, entry, layer))
    assert matches, f"{path} is in no row of the layer table in docs/architecture.md"
    _, entry, layer = max(matches)
    return entry, layer


def test_every_module_is_in_the_layer_table():
    table = layer_table()
    assert len(table) > 10 and max(table.values()) >= 9
    for name in module_files():
        layer_of(name, table)


def test_no_import_climbs_a_layer():
    table = layer_table()
    climbing = []
    for name, targets in import_graph().items():
        entry, layer = layer_of(name, table)
        for target in targets:
            target_entry, target_layer = layer_of(target, table)
            if target_layer > layer:
                climbing.append(
                    f"{name} ({entry}, {layer}) -> {target} ({target_entry}, {target_layer})"
                )
    assert climbing == []


def test_no_circle_of_packages():
    table = layer_table()
    graph: dict[str, set[str]] = {}
    for name, targets in import_graph().items():
        unit = layer_of(name, table)[0]
        graph.setdefault(unit, set())
        graph[unit] |= {layer_of(t, table)[0] for t in targets} - {unit}
    assert circles(graph) == []


def test_a_climbing_import_is_caught():
    table = {"errors.py": 1, "measure/": 6, "*/commands.py": 10, "launch/": 9}
    assert layer_of("mtbench.launch.commands", table) == ("*/commands.py", 10)
    assert layer_of("mtbench.launch.slurm", table) == ("launch/", 9)
    assert layer_of("mtbench.errors", table)[1] < layer_of("mtbench.measure.profile", table)[1]


def python_files() -> list[Path]:
    return [
        p for d in ("mtbench", "baselines", "benchmarks", "tests") for p in (ROOT / d).rglob("*.py")
    ]


def test_no_function_is_longer_than_a_reader_sees_whole():
    long = []
    for path in python_files():
        if path.parent.name == "tests":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({lines})")
    assert long == []


def test_lines_are_not_packed_past_the_formatter():
    marker = "fmt: " + "skip"
    packed = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in python_files()
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if marker in line
    ]
    assert packed == []
