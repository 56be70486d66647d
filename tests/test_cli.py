"""The nsolve command line: methods, compare (library and user problems, bad input), bench."""

import re
import subprocess
import sys

import pytest

import nsolve
from nsolve import cli

USER_MODULE = """
import numpy as np

def f(x):
    return float(np.sum((x - 1.0) ** 2))

def g(x):
    return 2.0 * (x - 1.0)

X0 = np.zeros(4)
NOT_CALLABLE = 3
"""


@pytest.fixture
def user_dir(tmp_path, monkeypatch):
    (tmp_path / "cli_user_problem.py").write_text(USER_MODULE)
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    sys.modules.pop("cli_user_problem", None)


def test_methods_lists_every_method_with_options(capsys):
    assert cli.main(["methods"]) == 0
    out = capsys.readouterr().out
    for name in nsolve.available_methods():
        assert f"{name}:" in out
    assert "gtol = 1e-05" in out and "m = 10" in out


def test_compare_library_problem(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out_dir = tmp_path / "out"
    rc = cli.main(["compare", "rosenbrock", "--methods", "bfgs", "--repeat", "1", "--out", str(out_dir),
                   "--no-progress"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "f - f*" in out and "nsolve bfgs" in out and "scipy BFGS" in out and "speed-up" in out
    names = {p.name for p in out_dir.iterdir()}
    assert {"compare.csv", "compare.json", "compare_table.md", "compare_profile_time.png",
            "compare_profile_evals.png", "compare_convergence_time.png", "compare_convergence_evals.png"} <= names


def test_compare_user_problem(user_dir, capsys):
    rc = cli.main(["compare", "--f", "cli_user_problem:f", "--grad", "cli_user_problem:g", "--x0",
                   "cli_user_problem:X0", "--f-star", "0", "--methods", "bfgs", "lbfgs", "--repeat", "1",
                   "--no-plots", "--no-progress", "--out", str(user_dir / "o")])
    assert rc == 0
    out = capsys.readouterr().out
    assert "scipy L-BFGS-B" in out and "!" not in out.split("\n\n")[0]  # solved by all


@pytest.mark.parametrize("argv, message", [
    (["--f", "cli_user_problem:nope", "--x0", "0,0"], "has no attribute 'nope'"),
    (["--f", "no_such_module_abc:f", "--x0", "0,0"], "cannot import module 'no_such_module_abc'"),
    (["--f", "cli_user_problem:NOT_CALLABLE", "--x0", "0,0"], "is not callable"),
    (["--f", "cli_user_problem:f", "--grad", "cli_user_problem:X0", "--x0", "0,0"], "--grad .* is not callable"),
    (["--f", "cli_user_problem"], "'module:name'"),
    (["--f", "cli_user_problem:f"], "--x0 is required"),
    (["--f", "cli_user_problem:f", "--x0", "1,x"], "numbers separated by commas"),
    (["--x0", "1,2"], "given with --f"),
    (["not_a_problem"], "unknown problem"),
    (["rosenbrock", "--methods", "adam"], "scipy counterpart"),
])
def test_compare_bad_input_exits_2_with_a_message(user_dir, capsys, argv, message):
    assert cli.main(["compare", "--no-progress", "--repeat", "1", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nsolve compare: error:")
    assert re.search(message, err), err


def test_compare_exit_status_of_the_process(user_dir):
    proc = subprocess.run([sys.executable, "-m", "nsolve", "compare", "--f", "cli_user_problem:missing", "--x0", "1"],
                          capture_output=True, text=True, cwd=user_dir)
    assert proc.returncode == 2
    assert "no attribute 'missing'" in proc.stderr and "Traceback" not in proc.stderr


def test_compare_without_matplotlib_writes_the_rest(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    rc = cli.main(["compare", "beale", "--methods", "lbfgs", "--repeat", "1", "--out", str(tmp_path),
                   "--no-progress"])
    assert rc == 1
    assert "matplotlib" in capsys.readouterr().err
    assert (tmp_path / "compare.csv").exists() and not (tmp_path / "compare_profile_time.png").exists()


def test_demo_and_compare_reject_bad_repeat_and_out(tmp_path, capsys):
    assert cli.main(["demo", "--repeat", "0"]) == 2
    assert "--repeat must be >= 1" in capsys.readouterr().err
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    rc = cli.main(["compare", "beale", "--methods", "bfgs", "--repeat", "1", "--no-progress", "--no-plots",
                   "--out", str(blocker / "sub")])
    assert rc == 2
    err = capsys.readouterr().err
    assert err.startswith("nsolve compare: error: --out") and "Traceback" not in err


def test_run_all_rejects_an_unknown_benchmark_name(capsys):
    from pathlib import Path

    root = Path(nsolve.__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, str(root / "benchmarks" / "run_all.py"), "--only", "nonexist"],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "no benchmark named nonexist" in proc.stderr and "wrote" not in proc.stdout


def test_bench_runs_run_all_from_the_repository(monkeypatch, capsys):
    calls = []

    class Done:
        returncode = 0

    monkeypatch.setattr(subprocess, "run", lambda cmd, cwd=None: calls.append((cmd, cwd)) or Done())
    assert cli.main(["bench", "--only", "compare", "--quick"]) == 0
    cmd, cwd = calls[0]
    assert cmd[1].endswith("benchmarks/run_all.py") and cmd[2:] == ["--only", "compare", "--quick"]
    assert (cwd / "benchmarks" / "run_all.py").is_file()


def test_bench_without_the_repository_explains(monkeypatch, capsys):
    monkeypatch.setattr(cli, "_find_benchmarks", lambda: None)
    assert cli.main(["bench"]) == 2
    assert "source repository" in capsys.readouterr().err


def test_precompile_compiles_the_named_solvers_and_rejects_unknown_ones(capsys):
    assert cli.main(["precompile", "lbfgs"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"lbfgs\s+\d+\.\d+ s", out) and "done in" in out
    from nsolve.compiled._driver import solve_lbfgs

    assert solve_lbfgs.overloads  # machine code in this process
    assert cli.main(["precompile", "newton-cg"]) == 2
    assert "no compiled solver for method(s) ['newton-cg']" in capsys.readouterr().err


def test_precompile_without_names_compiles_every_solver(monkeypatch, capsys):
    from nsolve.compiled import _bridge, _dispatch

    seen = []
    monkeypatch.setattr(_bridge, "precompile",
                        lambda methods=None, many=True, verbose=False, jobs=1: seen.append((methods, many, jobs)) or {})
    assert cli.main(["precompile"]) == 0
    assert cli.main(["precompile", "--no-many", "bfgs"]) == 0
    assert cli.main(["precompile", "--jobs", "3", "lbfgs"]) == 0
    # None: every method with a compiled solver
    assert seen == [(None, True, 1), (["bfgs"], False, 1), (["lbfgs"], True, 3)]
    assert set(_dispatch.COMPILED_METHODS) >= {"bfgs", "lbfgs", "newton"}
