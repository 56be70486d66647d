"""nsolve.compare: the runs are the libraries' own results, the profiles follow Dolan-Moré, the exports round-trip."""

import csv
import io
import json
import math
import sys
import warnings

import numpy as np
import pytest
import scipy.optimize as so

import nsolve
from nsolve import problems
from nsolve.compare import (
    Comparison,
    _GradientStop,
    _Progress,
    _pyplot,
    load_array,
    load_callable,
    performance_profile,
)


@pytest.fixture(scope="module")
def small():
    """rosenbrock-2 and beale-2 with bfgs and newton-cg: 8 runs, one timed repeat."""
    return nsolve.compare(["rosenbrock", "beale"], methods=["bfgs", "newton-cg"], repeat=2, progress=False)


# --------------------------------------------------------------------------- profiles
def test_performance_profile_closed_form():
    # ratios: a = [1, 1, inf], b = [2, 1, 1]
    taus, rho = performance_profile({"a": [1.0, 2.0, math.inf], "b": [2.0, 2.0, 3.0]})
    np.testing.assert_array_equal(taus, [1.0, 2.0])
    np.testing.assert_allclose(rho["a"], [2 / 3, 2 / 3])
    np.testing.assert_allclose(rho["b"], [2 / 3, 1.0])


def test_performance_profile_unsolved_by_all_counts_as_failure_for_all():
    taus, rho = performance_profile({"a": [1.0, math.inf], "b": [4.0, math.inf]})
    np.testing.assert_array_equal(taus, [1.0, 4.0])
    np.testing.assert_allclose(rho["a"], [0.5, 0.5])
    np.testing.assert_allclose(rho["b"], [0.0, 0.5])


# --------------------------------------------------------------------------- the runs
def test_runs_are_the_libraries_own_results(small):
    assert len(small.runs) == 8
    for r in small.runs:
        p = problems.get(r.problem, r.n)
        if r.solver == "nsolve":
            kw = {"hessp": p.hessp} if r.method == "newton-cg" else {}
            ref = nsolve.minimize(p.f, p.grad, p.x0, method=r.method, gtol=1e-5, **kw)
            assert (r.nit, r.nfev, r.njev, r.f) == (ref.nit, ref.nfev, ref.njev, ref.fun)
        elif r.method == "bfgs":
            ref = so.minimize(p.f, p.x0, jac=p.grad, method="BFGS", options={"gtol": 1e-5})
            assert (r.nit, r.nfev, r.njev, r.f) == (ref.nit, ref.nfev, ref.njev, ref.fun)
        assert r.f_star == p.f_star
        assert r.gap == pytest.approx(r.f - p.f_star, abs=0)
        assert r.solved == (r.gap <= 1e-6 * max(1.0, p.f(p.x0) - p.f_star))
        assert r.time == pytest.approx(float(np.median(r.times)))
        assert len(r.times) == 2


def test_speedup_is_scipy_time_over_nsolve_time(small):
    for ours, theirs in zip(small.runs[0::2], small.runs[1::2], strict=True):
        assert (ours.solver, theirs.solver) == ("nsolve", "scipy")
        assert ours.speedup == pytest.approx(theirs.time / ours.time)
        assert theirs.speedup is None


def test_scipy_newton_cg_stops_at_the_same_gradient_test():
    p = problems.get("rosenbrock")
    stop = _GradientStop(p.grad, 1e-5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = so.minimize(p.f, p.x0, method="Newton-CG", jac=stop.grad, hessp=p.hessp, callback=stop.callback,
                          options={"xtol": 0.0})
    assert stop.converged and res.status == 99
    assert np.max(np.abs(p.grad(res.x))) <= 1e-5
    # the stop used the gradient scipy had just computed: no extra evaluation
    assert stop.extra == 0
    # and not earlier: the previous iterate did not meet the test
    prev = so.minimize(p.f, p.x0, method="Newton-CG", jac=p.grad, hessp=p.hessp,
                       options={"xtol": 0.0, "maxiter": res.nit - 1})
    assert np.max(np.abs(p.grad(prev.x))) > 1e-5


def test_traces_count_every_evaluation(small):
    for r in small.runs:
        e = np.asarray(r.trace["evals"])
        fbest = np.asarray(r.trace["f"])
        t = np.asarray(r.trace["time"])
        assert np.all(np.diff(e) == 1) and e[-1] == r.evals  # one row per call, every call counted
        assert np.all(np.diff(fbest) <= 0) and np.all(np.diff(t) >= 0)
        assert fbest[-1] <= r.f + 1e-15 * max(1.0, abs(r.f))


def test_user_problem_without_f_star_uses_best_found():
    def f(x):
        return float(np.sum((x - 2.0) ** 2) + 3.0)

    def g(x):
        return 2.0 * (x - 2.0)

    cmp = nsolve.compare(f=f, grad=g, x0=np.zeros(3), methods=["bfgs", "lbfgs"], repeat=1, progress=False)
    assert {r.problem for r in cmp.runs} == {"f"}
    best = min(r.f for r in cmp.runs)
    assert all(r.f_star == best and r.solved for r in cmp.runs)
    assert best == pytest.approx(3.0)


def test_user_problem_with_finite_differences():
    cmp = nsolve.compare(f=lambda x: float(np.sum((x - 1.0) ** 2)), x0=[0.0, 0.0], f_star=0.0, name="quad",
                         methods=["bfgs"], repeat=1, progress=False)
    assert all(r.solved for r in cmp.runs) and cmp.runs[0].problem == "quad"


def test_finite_difference_gradients_are_counted_alike_for_both_libraries():
    """Without a gradient both libraries difference f; every call of f is one evaluation and the
    difference gradients are none of their own (scipy also counts them in njev, which used to
    count them twice)."""
    def f(x):
        return float(np.sum((x - 1.0) ** 2) + (x[0] * x[1] - 1.0) ** 2)

    cmp = nsolve.compare(f=f, x0=[0.0, 0.0, 0.0], methods=["bfgs", "lbfgs"], repeat=1, progress=False)
    for r in cmp.runs:
        assert r.njev == 0 and r.evals == r.nfev + r.nhev
        assert r.trace["evals"][-1] == r.evals  # the recorder counted every call of f
    sp = so.minimize(f, [0.0, 0.0, 0.0], method="L-BFGS-B", options={"ftol": 0.0, "gtol": 1e-5, "maxiter": 15000})
    assert next(r for r in cmp.runs if r.solver_method == "L-BFGS-B").nfev == sp.nfev


def test_problems_must_be_distinct():
    q = problems.get("rosenbrock")
    with pytest.raises(ValueError, match="rosenbrock-2 appears twice"):
        nsolve.compare(["rosenbrock"], f=lambda x: q.f(x) + 5, grad=q.grad, x0=q.x0, name="rosenbrock",
                       methods=["bfgs"], repeat=1, progress=False)
    with pytest.raises(ValueError, match="rosenbrock-2 appears twice"):
        nsolve.compare(["rosenbrock", "rosenbrock-2"], methods=["bfgs"], repeat=1, progress=False)


# --------------------------------------------------------------------------- outputs
def test_table_and_summary(small):
    text = small.table()
    for col in Comparison.COLUMNS:
        assert col in text
    assert text.count("nsolve bfgs") == 2 and "scipy Newton-CG (hessp)" in text
    assert "pinned to 1" in text
    summ = {s["method"]: s for s in small.summary()}
    ours = [r for r in small.runs if r.method == "bfgs" and r.solver == "nsolve"]
    theirs = [r for r in small.runs if r.method == "bfgs" and r.solver == "scipy"]
    gm = math.exp(np.mean([math.log(t.time / o.time) for o, t in zip(ours, theirs, strict=True)]))
    assert summ["bfgs"]["speedup_geomean"] == pytest.approx(gm)
    md = small.to_markdown()
    assert md.startswith("| problem | n | method |") and md.count("\n| rosenbrock |") == 4


def test_csv_and_json_round_trip(small, tmp_path):
    small.to_csv(tmp_path / "c.csv")
    rows = list(csv.DictReader(io.StringIO((tmp_path / "c.csv").read_text())))
    assert len(rows) == len(small.runs)
    assert [float(r["f"]) for r in rows] == [r.f for r in small.runs]
    assert [int(r["nfev"]) for r in rows] == [r.nfev for r in small.runs]
    data = json.loads(small.to_json(tmp_path / "c.json"))
    assert data == json.loads((tmp_path / "c.json").read_text())
    assert data["settings"]["gtol"] == 1e-5 and len(data["runs"]) == len(small.runs)
    assert data["runs"][0]["trace"]["evals"][-1] == small.runs[0].evals
    assert "trace" not in json.loads(small.to_json(traces=False))["runs"][0]


def test_save_writes_the_pngs(small, tmp_path):
    pytest.importorskip("matplotlib")
    written = small.save(tmp_path, traces=False)
    for key in ("profile_time", "profile_evals", "convergence_time", "convergence_evals"):
        assert written[key].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert {p.name for p in tmp_path.iterdir()} >= {"compare.csv", "compare.json", "compare_table.md"}


def test_missing_matplotlib_gives_a_clear_message(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"pip install 'nsolve\[plot\]'"):
        _pyplot()


def test_progress_bar():
    out = io.StringIO()
    bar = _Progress(2, True, stream=out, width=10)
    bar.update("a")
    bar.update("b")
    bar.close()
    text = out.getvalue()
    assert "[#####-----] 1/2" in text and "[##########] 2/2" in text and text.endswith("\n")
    silent = io.StringIO()
    _Progress(2, False, stream=silent).update("x")
    assert silent.getvalue() == ""


# --------------------------------------------------------------------------- bad input
def test_load_callable(tmp_path, monkeypatch):
    (tmp_path / "usermod_cmp.py").write_text("def f(x):\n    return 1.0\nVALUE = 3\nX0 = [1, 2]\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert load_callable("usermod_cmp:f")(None) == 1.0
    assert load_callable(f"{tmp_path / 'usermod_cmp.py'}:f")(None) == 1.0
    np.testing.assert_array_equal(load_array("usermod_cmp:X0"), [1.0, 2.0])
    np.testing.assert_array_equal(load_array("1.5, 2,3"), [1.5, 2.0, 3.0])
    with pytest.raises(ValueError, match="no attribute 'g'"):
        load_callable("usermod_cmp:g", "--f")
    with pytest.raises(ValueError, match="not callable"):
        load_callable("usermod_cmp:VALUE", "--f")
    with pytest.raises(ValueError, match="cannot import module 'no_such_module_xyz'"):
        load_callable("no_such_module_xyz:f", "--f")
    with pytest.raises(ValueError, match="'module:name'"):
        load_callable("usermod_cmp", "--f")
    with pytest.raises(ValueError, match="numbers separated by commas"):
        load_array("1,a")


def test_bad_arguments():
    with pytest.raises(ValueError, match="scipy counterpart"):
        nsolve.compare(["rosenbrock"], methods=["adam"], progress=False)
    with pytest.raises(ValueError, match="repeat"):
        nsolve.compare(["rosenbrock"], repeat=0, progress=False)
    with pytest.raises(TypeError, match="problems must hold"):
        nsolve.compare([3], progress=False)
    with pytest.raises(ValueError, match="unknown problem"):
        nsolve.compare(["nope"], progress=False)
    with pytest.raises(ValueError, match="x0 is required"):
        nsolve.compare(f=lambda x: 0.0, progress=False)
    with pytest.raises(ValueError, match="need the gradient"):
        nsolve.compare(f=lambda x: float(x @ x), x0=[1.0], methods=["newton-cg"], progress=False)


def test_the_users_problem_is_checked_at_x0_before_anything_runs():
    calls = []

    def f(x):
        calls.append(1)
        return float(x @ x)

    def grad(x):
        return 2.0 * x

    # minimize's messages, naming the function, from one evaluation at x0
    with pytest.raises(TypeError, match="f must return a real scalar; got str"):
        nsolve.compare(f=lambda x: "no", grad=grad, x0=[1.0], progress=False)
    with pytest.raises(ValueError, match=r"grad must return an array of shape \(2,\); got shape \(3,\)"):
        nsolve.compare(f=f, grad=lambda x: np.zeros(3), x0=[1.0, 2.0], progress=False)
    with pytest.raises(ValueError, match="f must be finite at x0"):
        nsolve.compare(f=lambda x: float("nan"), grad=grad, x0=[1.0], progress=False)
    for bad, exc, msg in ((float("nan"), ValueError, "f_star must not be NaN"),
                          (float("inf"), ValueError, "f_star must be finite"),
                          ("0", TypeError, "f_star must be a real number")):
        with pytest.raises(exc, match=msg):
            nsolve.compare(f=f, grad=grad, x0=[1.0], f_star=bad, progress=False)
    calls.clear()
    from nsolve.compare import user_case

    case = user_case(f, grad, [1.0, 2.0], f_star=0)
    assert calls == [1] and case.f_star == 0.0


def test_timed_runs_alternate_in_blocks_per_library(monkeypatch):
    # repeat=4: three timed runs of each library, then one more of each
    C = sys.modules["nsolve.compare"]  # the module (nsolve.compare is also the function)
    order = []
    for who, name in (("nsolve", "_solve_nsolve"), ("scipy", "_solve_scipy")):
        real = getattr(C, name)

        def recording(case, method, gtol, maxiter, _real=real, _who=who):
            order.append(_who)
            return _real(case, method, gtol, maxiter)

        monkeypatch.setattr(C, name, recording)
    cmp = nsolve.compare(["rosenbrock"], methods=["bfgs"], repeat=4, progress=False)
    # (before them: a compile warm-up and one instrumented run of each library, untimed)
    assert order[-8:] == ["nsolve"] * 3 + ["scipy"] * 3 + ["nsolve", "scipy"]
    assert all(len(r.times) == 4 for r in cmp.runs)
