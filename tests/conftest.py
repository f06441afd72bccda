import contextlib
import io
import os
import shutil
import subprocess
import sys

import pytest
import tiny_models  # noqa: F401  (the test models, registered once for every test module)
import torch

# Rich sizes tables to the terminal; a wide one keeps labels whole in captured output.
os.environ["COLUMNS"] = "200"

# torch's own thread count, before an xdist worker takes its share of the cores.
ALL_THREADS = torch.get_num_threads()


def pytest_configure(config: pytest.Config) -> None:
    """Under xdist: the scheduler that runs `serial` tests last and alone; in each worker,
    torch's threads cut to the worker's share of the cores (two workers with two OpenMP
    threads each on two cores wait for each other at every operator)."""
    if config.pluginmanager.hasplugin("xdist"):
        from serial_last import SerialLast  # imports xdist

        config.pluginmanager.register(SerialLast(config), "serial-last")
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    torch.set_num_threads(max(1, ALL_THREADS // workers))


@pytest.fixture(autouse=True)
def _whole_machine_when_serial(request: pytest.FixtureRequest):
    """A `serial` test runs alone, so it gets torch's whole thread count, as in one process
    (unless it asked for one thread)."""
    if request.node.get_closest_marker("serial") is None or "one_thread" in request.fixturenames:
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(ALL_THREADS)
    yield
    torch.set_num_threads(threads)


def run_cli(*args: str, cwd=None, timeout: float = 300, env=None) -> subprocess.CompletedProcess:
    """The real `mtbench` entry point in a subprocess: exit codes and stderr as a user sees them."""
    return subprocess.run(
        [sys.executable, "-m", "mtbench", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        env=env,
    )


def run_inproc(*args: str) -> subprocess.CompletedProcess:
    """`mtbench ARGS` in this process with its output captured, where no capsys is (a
    module-scoped fixture): (exit code, stdout, stderr), as `cli_inproc` gives them."""
    from mtbench.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


def run_one_cell(suite, out) -> dict:
    """`mtbench run SUITE --output OUT` in this process for a one-cell suite: its record."""
    from mtbench.cli import main
    from mtbench.suite.store import read_records

    try:
        main(["run", str(suite), "--output", str(out)])
    except SystemExit as exc:
        assert exc.code in (0, None), exc.code
    (record,) = read_records(out)
    assert record["status"] == "ok", record["error"]
    return record


@pytest.fixture(scope="module")
def one_thread():
    """Tiny tensors: one thread is faster, and immune to other processes on a busy machine
    (two OpenMP threads wait for each other at every operator when a core is taken)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture
def cli_inproc(capsys):
    """Run `mtbench ARGS` in this process: (exit code, stdout, stderr)."""
    from mtbench.cli import main

    def run(*args: str) -> subprocess.CompletedProcess:
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        out = capsys.readouterr()
        return subprocess.CompletedProcess(args, code, out.out, out.err)

    return run


@pytest.fixture
def rounds_timed(monkeypatch) -> list:
    """The steps the interleaved rounds time, in the order they ran (each run's step)."""
    from mtbench.measure import execution

    calls = []
    time_one = execution.time_one

    def spy(step, timer, meter):
        calls.append(step)
        return time_one(step, timer, meter)

    monkeypatch.setattr(execution, "time_one", spy)
    return calls


def assert_one_line_error(result: subprocess.CompletedProcess, *needles: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.fixture(scope="module")
def data_tree(tmp_path_factory):
    """data/ as the shipped suites expect it, with every official split (copies of split 1)."""
    from videos import write_hmdb51, write_kinetics, write_ucf101

    base = tmp_path_factory.mktemp("project")
    data = base / "data"
    _, ucf = write_ucf101(data)
    _, hmdb = write_hmdb51(data)
    write_kinetics(data)
    for n in (2, 3):
        for kind in ("train", "test"):
            shutil.copy(ucf / f"{kind}list01.txt", ucf / f"{kind}list0{n}.txt")
        for split1 in hmdb.glob("*_test_split1.txt"):
            shutil.copy(split1, split1.with_name(split1.name.replace("split1", f"split{n}")))
    return base


@pytest.fixture
def report_cli():
    """The report commands (table, compare, plot, ...) in process, as typer's runner gives them."""
    import typer
    from typer.testing import CliRunner

    from mtbench.report.commands import register

    app = typer.Typer()
    register(app)
    runner = CliRunner()
    return lambda *args: runner.invoke(app, [str(a) for a in args])
