r"""Run nsolve and scipy.optimize on the same problems and compare them.

:func:`compare` solves every problem with each nsolve method and its scipy counterpart
(``bfgs`` -> BFGS, ``lbfgs`` -> L-BFGS-B, ``newton`` -> Newton-CG with ``hess``,
``newton-cg`` -> Newton-CG with ``hessp``), from the same starting point with the same
stopping rule, and returns a :class:`Comparison`: a table (problem, n, method, f - f*, nit,
nfev, njev, time, speed-up), CSV and JSON export, Dolan-Moré performance profiles of time
and of evaluations, and convergence curves (f - f* against time and against evaluations) as
PNG files (matplotlib, the ``plot`` extra).  ``nsolve compare`` is its command line.

**The same stopping rule.**  Both stop when :math:`\|\nabla f(x_k)\|_\infty \le
\mathrm{gtol}`: nsolve's ``gtol``; scipy BFGS's ``gtol`` (inf-norm); L-BFGS-B's ``gtol``
(projected gradient, the gradient when unbounded) with its ``ftol`` test switched off, as
nsolve's is; scipy's Newton-CG has no gradient test, so a callback raises
:class:`StopIteration` once the gradient scipy computed at the new iterate (cached, no
extra evaluation) meets ``gtol``, and its own step test is switched off (``xtol=0``).  The
iteration limits are each library's defaults unless ``maxiter`` is given.

**Timings.**  Each solve is timed ``repeat`` times, in blocks of up to three consecutive
runs per library, the libraries alternating, so that machine load hits both while most runs
follow a run of their own library (a run right after the other library's pays for refilling
the caches and branch predictors: up to twice nsolve's overhead per iteration on small
problems); the median is reported; BLAS is pinned to one thread with threadpoolctl (small problems; threads only add
noise).  A first, untimed run of each pair
records the convergence curves (every evaluation of f, gradient, Hessian or Hessian-vector
product is logged with the best f so far; the same recorder wraps both libraries) and warms
the caches; nsolve's kernels are compiled before anything is timed.

**Solved.**  A run solves a problem when :math:`f - f^* \le \tau \max(1, f(x_0) - f^*)`,
:math:`\tau` = ``solve_tol`` (default :math:`10^{-6}`), the convergence test of Moré & Wild
(2009).  Without a known :math:`f^*` (a user's problem), :math:`f^*` is the best value any
run found.

**Performance profiles** (Dolan & Moré, 2002).  For solver :math:`s` and problem :math:`p`
with cost :math:`t_{p,s}` (median time, or evaluations :math:`n_f + n_g + n_h`; infinite
when not solved), :math:`r_{p,s} = t_{p,s} / \min_{s'} t_{p,s'}` and
:math:`\rho_s(\tau) = |\{p : r_{p,s} \le \tau\}| / |P|`: the fraction of problems solver
:math:`s` solves within a factor :math:`\tau` of the best.  :math:`\rho_s(1)` is how often
:math:`s` is fastest, :math:`\rho_s(\infty)` how often it solves at all.

References: E. D. Dolan and J. J. Moré, "Benchmarking optimization software with performance
profiles", *Math. Program.* 91:201-213, 2002; J. J. Moré and S. M. Wild, "Benchmarking
derivative-free optimization algorithms", *SIAM J. Optim.* 20(1):172-191, 2009.
"""

from __future__ import annotations

import contextlib
import csv
import importlib
import importlib.util
import io
import json
import math
import os
import platform
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "DEFAULT_METHODS",
    "SCIPY_COUNTERPART",
    "Case",
    "Comparison",
    "Run",
    "compare",
    "load_array",
    "load_callable",
    "performance_profile",
    "user_case",
]

#: nsolve method -> (scipy method, which second-order input scipy is given).
SCIPY_COUNTERPART: dict[str, tuple[str, str | None]] = {
    "bfgs": ("BFGS", None),
    "lbfgs": ("L-BFGS-B", None),
    "newton": ("Newton-CG", "hess"),
    "newton-cg": ("Newton-CG", "hessp"),
}
DEFAULT_METHODS = ("bfgs", "lbfgs", "newton", "newton-cg")

#: Colours of the method pairs in the plots (nsolve solid, scipy dashed).
_COLOURS = {"bfgs": "tab:blue", "lbfgs": "tab:orange", "newton": "tab:green", "newton-cg": "tab:red"}


# ------------------------------------------------------------------------------ problems
@dataclass
class Case:
    """One problem to compare on: functions, starting point and (when known) :math:`f^*`."""

    name: str
    n: int
    f: Callable
    grad: Callable | None
    x0: np.ndarray
    f_star: float | None = None
    hess: Callable | None = None
    hessp: Callable | None = None

    @property
    def label(self) -> str:
        return f"{self.name}-{self.n}"


def _case_from_problem(p) -> Case:
    return Case(name=p.name, n=p.n, f=p.f, grad=p.grad, x0=p.x0, f_star=float(p.f_star), hess=p.hess, hessp=p.hessp)


def user_case(f: Callable, grad: Callable | None, x0, *, hess: Callable | None = None,
              hessp: Callable | None = None, f_star: float | None = None, name: str | None = None) -> Case:
    """A :class:`Case` from the user's functions, checked before anything runs: ``f`` and
    ``grad`` are evaluated once at ``x0``, with the checks and messages of
    :func:`nsolve.minimize` (a real scalar, finite values, a gradient of shape ``(n,)``).

    Parameters
    ----------
    f, grad : callable
        ``f(x) -> float`` and ``grad(x) -> ndarray``; ``grad=None`` for finite differences
        (forward, in both libraries; not with the Newton methods).
    x0 : array_like
        The starting point.
    hess, hessp : callable, optional
        The Hessian and the Hessian-vector product (for ``newton`` / ``newton-cg``).
    f_star : float, optional
        The minimum value when known (finite); else the best value any run finds.
    name : str, optional
        The name in the table (default: ``f.__name__``).
    """
    from nsolve._objective import Objective
    from nsolve._validation import as_float_vector, check_callable, check_real

    check_callable(f, "f")
    check_callable(grad, "grad", allow_none=True)
    check_callable(hess, "hess", allow_none=True)
    check_callable(hessp, "hessp", allow_none=True)
    x = as_float_vector(x0, "x0")
    if f_star is not None:
        f_star = check_real(f_star, "f_star")
        if math.isinf(f_star):
            raise ValueError(f"f_star must be finite; got {f_star}")
    # f and grad at x0, with minimize's checks and messages (a scalar, finite, the right shape)
    Objective(f, grad, x.shape[0]).first_evaluation(x)
    return Case(name=name or getattr(f, "__name__", "f"), n=x.shape[0], f=f, grad=grad, x0=x, f_star=f_star,
                hess=hess, hessp=hessp)


def load_callable(spec: str, what: str = "function") -> Callable:
    """Import ``"module:function"`` (or ``"path/to/file.py:function"``) and return the callable.

    The current directory is searched first, as ``python -m`` would.  Raises
    :class:`ValueError` with a message naming ``what`` when the module cannot be imported,
    has no such attribute, or the attribute is not callable.
    """
    obj = _load_object(spec, what)
    if not callable(obj):
        raise ValueError(f"{what} {spec!r} is not callable (it is a {type(obj).__name__})")
    return obj


def load_array(spec: str, what: str = "x0") -> np.ndarray:
    """A starting point from ``"1.3,0.7,..."`` (numbers separated by commas) or ``"module:name"``.

    ``module:name`` may name an array (or list) or a function of no arguments returning one.
    Raises :class:`ValueError` naming ``what`` on failure.
    """
    if isinstance(spec, str) and ":" in spec:
        obj = _load_object(spec, what)
        if callable(obj):
            obj = obj()
    else:
        try:
            obj = [float(v) for v in str(spec).replace(" ", "").split(",") if v]
        except ValueError:
            raise ValueError(f"{what} must be numbers separated by commas or 'module:name'; got {spec!r}") from None
    try:
        arr = np.array(obj, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise ValueError(f"{what} {spec!r} is not an array of numbers") from None
    if arr.size == 0:
        raise ValueError(f"{what} is empty")
    return arr


def _load_object(spec: str, what: str):
    if not isinstance(spec, str) or spec.count(":") != 1 or not all(spec.split(":")):
        raise ValueError(f"{what} must be given as 'module:name' (or 'file.py:name'); got {spec!r}")
    mod_name, attr = spec.split(":")
    try:
        if mod_name.endswith(".py"):
            path = Path(mod_name)
            if not path.is_file():
                raise ValueError(f"{what} {spec!r}: file {mod_name!r} not found")
            mspec = importlib.util.spec_from_file_location(path.stem, path)
            module = importlib.util.module_from_spec(mspec)
            sys.modules.setdefault(path.stem, module)
            mspec.loader.exec_module(module)
        else:
            cwd = os.getcwd()
            if cwd not in sys.path:
                sys.path.insert(0, cwd)
            module = importlib.import_module(mod_name)
    except ValueError:
        raise
    except ImportError as exc:
        raise ValueError(f"{what} {spec!r}: cannot import module {mod_name!r} ({exc})") from None
    except Exception as exc:  # an error inside the user's module
        raise ValueError(f"{what} {spec!r}: importing {mod_name!r} failed: {type(exc).__name__}: {exc}") from None
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ValueError(f"{what} {spec!r}: module {mod_name!r} has no attribute {attr!r}") from None


def _library_cases(problems, max_n) -> list[Case]:
    from nsolve import problems as lib

    if problems is None:
        return [_case_from_problem(p) for p in lib.library(max_n)]
    if isinstance(problems, str | Case) or hasattr(problems, "f_star"):
        problems = [problems]
    cases = []
    for item in problems:
        if isinstance(item, Case):
            cases.append(item)
        elif isinstance(item, str):
            name, n = item, None
            head, _, tail = item.rpartition("-")
            if head and tail.isdigit():
                name, n = head, int(tail)
            cases.append(_case_from_problem(lib.get(name, n)))
        elif hasattr(item, "f_star") and hasattr(item, "grad"):
            cases.append(_case_from_problem(item))
        else:
            raise TypeError(f"problems must hold problem names ('rosenbrock' or 'rosenbrock-10'), nsolve.problems "
                            f"Problem objects or Case objects; got {type(item).__name__}")
    if max_n is not None:
        cases = [c for c in cases if c.n <= max_n]
    return cases


# ------------------------------------------------------------------------------ records
@dataclass
class Run:
    """One solver on one problem: the result of the timed solves and the convergence trace."""

    problem: str
    n: int
    method: str  # the nsolve method of the pair
    solver: str  # "nsolve" or "scipy"
    solver_method: str  # e.g. "bfgs" or "BFGS"
    f: float
    f0: float
    nit: int
    nfev: int
    njev: int
    nhev: int
    time: float  # median seconds
    times: list[float]  # every timed solve (the minimum is the least disturbed by load)
    status: int
    message: str
    success: bool  # the solver's own verdict
    f_star: float = math.nan
    gap: float = math.nan  # f - f*
    solved: bool = False  # by the accuracy criterion
    speedup: float | None = None  # scipy time / nsolve time, on nsolve's rows
    trace: dict = field(default_factory=dict, repr=False)

    @property
    def evals(self) -> int:
        """Evaluations of f, gradient and Hessian (or Hessian-vector product)."""
        return self.nfev + self.njev + self.nhev

    @property
    def label(self) -> str:
        if self.solver == "nsolve":
            return f"nsolve {self.solver_method}"
        second = SCIPY_COUNTERPART[self.method][1]
        return f"scipy {self.solver_method}" + (f" ({second})" if second else "")


class _Recorder:
    """Wraps f, grad, hess and hessp; logs (time, evaluations, best f so far) at every call."""

    def __init__(self, case: Case):
        self.case = case
        self.t0 = time.perf_counter()
        self.evals = 0
        self.best = math.inf
        self.t: list[float] = []
        self.e: list[int] = []
        self.b: list[float] = []

    def _log(self):
        self.t.append(time.perf_counter() - self.t0)
        self.e.append(self.evals)
        self.b.append(self.best)

    def f(self, x, *args):
        v = self.case.f(x, *args)
        self.evals += 1
        fv = float(v)
        if fv < self.best:
            self.best = fv
        self._log()
        return v

    def grad(self, x, *args):
        g = self.case.grad(x, *args)
        self.evals += 1
        self._log()
        return g

    def hess(self, x, *args):
        h = self.case.hess(x, *args)
        self.evals += 1
        self._log()
        return h

    def hessp(self, x, p, *args):
        h = self.case.hessp(x, p, *args)
        self.evals += 1
        self._log()
        return h

    def functions(self) -> Case:
        c = self.case
        return Case(c.name, c.n, self.f, self.grad if c.grad is not None else None, c.x0, c.f_star,
                    self.hess if c.hess is not None else None, self.hessp if c.hessp is not None else None)

    def trace(self) -> dict:
        return {"time": self.t, "evals": self.e, "f": self.b}


class _GradientStop:
    """scipy Newton-CG's missing gradient test: a callback raising StopIteration at ``gtol``.

    Uses the gradient scipy last computed when it is at the new iterate (the line search
    evaluates it there), else evaluates it and counts the extra call.
    """

    def __init__(self, grad: Callable, gtol: float):
        self.user_grad = grad
        self.gtol = gtol
        self.last_x = None
        self.last_g = None
        self.extra = 0
        self.converged = False

    def grad(self, x, *args):
        g = self.user_grad(x, *args)
        self.last_x = np.array(x, copy=True)
        self.last_g = g
        return g

    def callback(self, intermediate_result):
        x = intermediate_result.x
        if self.last_x is not None and np.array_equal(x, self.last_x):
            g = self.last_g
        else:
            g = self.user_grad(x)
            self.extra += 1
        if np.max(np.abs(g)) <= self.gtol:
            self.converged = True
            raise StopIteration


def _solve_nsolve(case: Case, method: str, gtol: float, maxiter: int | None):
    import nsolve

    kw: dict[str, Any] = {"gtol": gtol}
    if maxiter is not None:
        kw["maxiter"] = maxiter
    if method == "newton":
        kw["hess"] = case.hess
    elif method == "newton-cg":
        if case.hessp is not None:
            kw["hessp"] = case.hessp
        else:
            kw["hess"] = case.hess
    res = nsolve.minimize(case.f, case.grad, case.x0, method=method, **kw)
    return res, {}


def _solve_scipy(case: Case, method: str, gtol: float, maxiter: int | None):
    from scipy import optimize

    sp_method, second = SCIPY_COUNTERPART[method]
    kw: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    jac = case.grad if case.grad is not None else "2-point"
    if sp_method == "BFGS":
        options = {"gtol": gtol}
    elif sp_method == "L-BFGS-B":
        options = {"gtol": gtol, "ftol": 0.0, "maxfun": 10**9, "maxiter": 15000}
    else:
        if case.grad is None:
            raise ValueError(f"comparing {method!r} needs the gradient (scipy's Newton-CG requires jac)")
        stop = _GradientStop(case.grad, gtol)
        jac = stop.grad
        kw["callback"] = stop.callback
        # no step test (our gradient test stops it); not 0: scipy < 1.13 then never iterates
        options = {"xtol": float(np.finfo(float).tiny)}
        extra["stop"] = stop
        if second == "hess" and case.hess is not None:
            kw["hess"] = case.hess
        elif second == "hessp" and case.hessp is not None:
            kw["hessp"] = case.hessp
        elif case.hess is not None:
            kw["hess"] = case.hess
    if maxiter is not None:
        options["maxiter"] = maxiter
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = optimize.minimize(case.f, case.x0, method=sp_method, jac=jac, options=options, **kw)
    return res, extra


def _scipy_outcome(res, extra) -> tuple[int, str, bool, int]:
    """(status, message, success, extra gradient evaluations) of a scipy run."""
    stop = extra.get("stop")
    if stop is not None and stop.converged:
        return 0, "Converged: the gradient inf-norm is at most gtol (callback test).", True, stop.extra
    return int(res.status), str(res.message), bool(res.success), stop.extra if stop is not None else 0


def _make_run(case: Case, method: str, solver: str, res, extra, times: list[float], f0: float) -> Run:
    njev = int(res.get("njev", 0))
    if solver == "nsolve":
        status, message, success, more = int(res.status), str(res.message), bool(res.success), 0
        solver_method = method
    else:
        status, message, success, more = _scipy_outcome(res, extra)
        solver_method = SCIPY_COUNTERPART[method][0]
        if case.grad is None:
            # finite differences: scipy counts each difference gradient in njev and its calls
            # of f in nfev; counted as nsolve counts them (calls of the user's functions), the
            # gradients are no evaluations of their own
            njev = 0
    return Run(problem=case.name, n=case.n, method=method, solver=solver, solver_method=solver_method,
               f=float(res.fun), f0=f0, nit=int(res.get("nit", 0)), nfev=int(res.get("nfev", 0)),
               njev=njev + more, nhev=int(res.get("nhev", 0)),
               time=float(np.median(times)), times=[float(t) for t in times], status=status, message=message,
               success=success)


# ------------------------------------------------------------------------------ progress
class _Progress:
    """A one-line progress bar on stderr (redrawn with a carriage return)."""

    def __init__(self, total: int, enabled: bool, stream=None, width: int = 30):
        self.total = max(total, 1)
        self.enabled = enabled
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.done = 0
        self.t0 = time.perf_counter()
        self._last_len = 0

    def update(self, text: str = "", step: int = 1):
        self.done += step
        if not self.enabled:
            return
        frac = self.done / self.total
        filled = int(round(frac * self.width))
        bar = "#" * filled + "-" * (self.width - filled)
        line = f"\r[{bar}] {self.done}/{self.total} {time.perf_counter() - self.t0:5.1f}s {text}"
        pad = max(self._last_len - len(line), 0)
        self._last_len = len(line)
        self.stream.write(line + " " * pad)
        self.stream.flush()

    def close(self):
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()


def _blas_limit(threads: int | None):
    if threads is None:
        return contextlib.nullcontext(), "BLAS threads: library default"
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext(), "BLAS threads: library default (install threadpoolctl to pin them)"
    return threadpool_limits(limits=threads, user_api="blas"), f"BLAS threads: pinned to {threads} (threadpoolctl)"


def _loadavg() -> str | None:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return None


# ------------------------------------------------------------------------------ profiles
def performance_profile(costs: dict[str, Sequence[float]]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Dolan-Moré performance profiles from per-problem costs (``inf`` = not solved).

    Parameters
    ----------
    costs : dict
        Solver label -> costs, one per problem (the same problem order for every solver).

    Returns
    -------
    taus : ndarray
        The sorted distinct finite ratios :math:`r_{p,s} \\ge 1` (the profile's jump points).
    rho : dict
        Solver label -> :math:`\\rho_s(\\tau)` at each ``tau`` (fraction of problems with
        :math:`r_{p,s} \\le \\tau`).
    """
    labels = list(costs)
    if not labels:
        return np.array([1.0]), {}
    C = np.array([np.asarray(costs[k], dtype=float) for k in labels])  # (solvers, problems)
    if C.ndim != 2 or C.shape[1] == 0:
        return np.array([1.0]), {k: np.array([0.0]) for k in labels}
    best = np.min(C, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        R = np.where(np.isfinite(C) & np.isfinite(best), C / np.where(best > 0, best, 1.0), np.inf)
    R = np.where(np.isfinite(R) & (best == 0) & (C == 0), 1.0, R)
    finite = R[np.isfinite(R)]
    taus = np.unique(np.concatenate([[1.0], finite]))
    rho = {k: np.array([(R[i] <= t).mean() for t in taus]) for i, k in enumerate(labels)}
    return taus, rho


# ------------------------------------------------------------------------------ results
def _fmt_time(t: float) -> str:
    if not math.isfinite(t):
        return "-"
    if t < 1e-3:
        return f"{t * 1e6:.0f} us"
    if t < 1.0:
        return f"{t * 1e3:.2f} ms"
    return f"{t:.2f} s"


def _geomean(values) -> float:
    v = [x for x in values if x is not None and x > 0 and math.isfinite(x)]
    return math.exp(sum(math.log(x) for x in v) / len(v)) if v else math.nan


class Comparison:
    """The outcome of :func:`compare`: one :class:`Run` per (problem, method, solver).

    Attributes
    ----------
    runs : list of Run
    settings : dict
        gtol, solve_tol, repeat, maxiter, BLAS threads, library versions, machine, load.
    """

    COLUMNS = ("problem", "n", "method", "f - f*", "nit", "nfev", "njev", "time", "speed-up")

    def __init__(self, runs: list[Run], settings: dict):
        self.runs = runs
        self.settings = settings

    # --------------------------------------------------------------- tables
    def _rows(self) -> list[list[str]]:
        rows = []
        for r in self.runs:
            gap = f"{r.gap:.1e}" + ("" if r.solved else " !")
            speed = f"{r.speedup:.1f}x" if r.speedup is not None else ""
            rows.append([r.problem, str(r.n), r.label, gap, str(r.nit), str(r.nfev), str(r.njev),
                         _fmt_time(r.time), speed])
        return rows

    def summary(self) -> list[dict]:
        """Per method pair: geometric-mean speed-up and evaluation ratio, problems solved."""
        out = []
        for method in dict.fromkeys(r.method for r in self.runs):
            ours = [r for r in self.runs if r.method == method and r.solver == "nsolve"]
            theirs = {r.problem + str(r.n): r for r in self.runs if r.method == method and r.solver == "scipy"}
            both = [(o, theirs[o.problem + str(o.n)]) for o in ours if o.problem + str(o.n) in theirs]
            solved_both = [(o, t) for o, t in both if o.solved and t.solved]
            out.append({
                "method": method,
                "scipy": both[0][1].label if both else "",
                "problems": len(both),
                "solved_nsolve": sum(o.solved for o, _ in both),
                "solved_scipy": sum(t.solved for _, t in both),
                "speedup_geomean": _geomean(t.time / o.time for o, t in solved_both),
                "speedup_min": min((t.time / o.time for o, t in solved_both), default=math.nan),
                "speedup_max": max((t.time / o.time for o, t in solved_both), default=math.nan),
                "evals_ratio_geomean": _geomean(o.evals / t.evals for o, t in solved_both if t.evals),
            })
        return out

    def _notes(self) -> list[str]:
        s = self.settings
        return [
            f"f - f*: '!' marks a run that did not solve the problem (f - f* > {s['solve_tol']:g} "
            "* max(1, f(x0) - f*)).",
            f"Both libraries stop at ||grad f||_inf <= {s['gtol']:g}; time: median of {s['repeat']} "
            f"solves, in alternating blocks of up to {_TIMING_BLOCK} per library; speed-up: scipy time / nsolve "
            f"time.  {s['blas']}.",
        ]

    def table(self) -> str:
        """The plain-text table printed by ``nsolve compare``, with the per-method summary."""
        rows = self._rows()
        widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(self.COLUMNS)]
        right = {1, 3, 4, 5, 6, 7, 8}

        def line(cells):
            return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths,
                                                                                                    strict=True)))

        out = [line(self.COLUMNS), "  ".join("-" * w for w in widths)]
        out += [line(r) for r in rows]
        out.append("")
        for s in self.summary():
            out.append(f"{s['method']} vs {s['scipy']}: speed-up {s['speedup_geomean']:.2f}x geometric mean "
                       f"({s['speedup_min']:.2f}x-{s['speedup_max']:.2f}x), evaluations x"
                       f"{s['evals_ratio_geomean']:.2f}, solved {s['solved_nsolve']}/{s['problems']} "
                       f"(scipy {s['solved_scipy']}/{s['problems']})")
        out += ["", *self._notes()]
        return "\n".join(out)

    def to_markdown(self) -> str:
        """The table and the summary as Markdown."""
        out = ["| " + " | ".join(self.COLUMNS) + " |", "|" + "|".join("---:" if i in (1, 3, 4, 5, 6, 7, 8) else "---"
                                                                      for i in range(len(self.COLUMNS))) + "|"]
        out += ["| " + " | ".join(r) + " |" for r in self._rows()]
        out += ["", "| method | scipy | speed-up (geometric mean) | range | evaluations ratio | solved nsolve | "
                "solved scipy |", "|---|---|---:|---:|---:|---:|---:|"]
        for s in self.summary():
            out.append(f"| {s['method']} | {s['scipy']} | {s['speedup_geomean']:.2f}x | {s['speedup_min']:.2f}x-"
                       f"{s['speedup_max']:.2f}x | {s['evals_ratio_geomean']:.2f} | {s['solved_nsolve']}/"
                       f"{s['problems']} | {s['solved_scipy']}/{s['problems']} |")
        out += [""] + [n.replace("*", "\\*") for n in self._notes()]
        return "\n".join(out) + "\n"

    # --------------------------------------------------------------- export
    def records(self) -> list[dict]:
        """One flat dict per run (no traces), the rows of the CSV."""
        out = []
        for r in self.runs:
            d = asdict(r)
            d.pop("trace")
            d["times"] = " ".join(f"{t:.6g}" for t in r.times)
            d["time_min"] = min(r.times)
            d["evals"] = r.evals
            d["label"] = r.label
            out.append(d)
        return out

    def to_csv(self, path) -> Path:
        path = Path(path)
        recs = self.records()
        with path.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(recs[0]) if recs else ["problem"])
            writer.writeheader()
            writer.writerows(recs)
        return path

    def to_json(self, path=None, traces: bool = True) -> str:
        """JSON with the settings, the summary and every run (with its trace unless ``traces=False``)."""
        runs = []
        for r in self.runs:
            d = asdict(r)
            d["evals"] = r.evals
            d["label"] = r.label
            if not traces:
                d.pop("trace")
            runs.append(d)
        text = json.dumps({"settings": self.settings, "summary": self.summary(), "runs": runs}, indent=1,
                          default=_json_default)
        if path is not None:
            Path(path).write_text(text)
        return text

    # --------------------------------------------------------------- profiles and plots
    def _problems(self) -> list[str]:
        return list(dict.fromkeys(f"{r.problem}-{r.n}" for r in self.runs))

    def profile_costs(self, metric: str = "time", method: str | None = None) -> dict[str, list[float]]:
        """Solver label -> cost per problem (``inf`` when not solved), for ``metric`` "time" or "evals"."""
        if metric not in ("time", "evals"):
            raise ValueError(f"metric must be 'time' or 'evals'; got {metric!r}")
        probs = self._problems()
        costs: dict[str, list[float]] = {}
        for r in self.runs:
            if method is not None and r.method != method:
                continue
            row = costs.setdefault(r.label, [math.inf] * len(probs))
            value = r.time if metric == "time" else float(r.evals)
            row[probs.index(f"{r.problem}-{r.n}")] = value if r.solved else math.inf
        return costs

    def plot_profiles(self, path, metric: str = "time") -> Path:
        """Performance profiles of ``metric``: one panel per method pair and one with every solver."""
        plt = _pyplot()
        methods = list(dict.fromkeys(r.method for r in self.runs))
        panels = [*methods, None] if len(methods) > 1 else methods
        ncols = min(len(panels), 3)
        nrows = math.ceil(len(panels) / ncols)
        fig, axes = plt.subplots(nrows, ncols, figsize=(4.6 * ncols, 3.6 * nrows), squeeze=False)
        what = "time" if metric == "time" else "evaluations (f + gradient + Hessian)"
        for ax, method in zip(axes.flat, panels, strict=False):
            costs = self.profile_costs(metric, method)
            taus, rho = performance_profile(costs)
            tau_max = max(2.0, float(taus[-1]) * 1.15)
            for label, y in rho.items():
                run = next(r for r in self.runs if r.label == label)
                xs = np.append(taus, tau_max)
                ys = np.append(y, y[-1])
                ax.step(xs, ys, where="post", color=_COLOURS.get(run.method, "k"),
                        linestyle="-" if run.solver == "nsolve" else "--", label=label, linewidth=1.6)
            ax.set_xscale("log", base=2)
            ax.set_xlim(1.0, tau_max)
            ax.set_ylim(-0.02, 1.02)
            ax.set_title(f"{method} vs {SCIPY_COUNTERPART[method][0]}" if method else "all solvers", fontsize=10)
            ax.set_xlabel(r"$\tau$ (within a factor $\tau$ of the best)", fontsize=8)
            ax.set_ylabel(r"fraction of problems $\rho(\tau)$", fontsize=8)
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=7, loc="lower right")
        for ax in list(axes.flat)[len(panels):]:
            ax.set_visible(False)
        fig.suptitle(f"Performance profiles, {what}: {len(self._problems())} problems, solved = f - f* <= "
                     f"{self.settings['solve_tol']:g} max(1, f(x0) - f*)", fontsize=10)
        fig.tight_layout()
        path = Path(path)
        fig.savefig(path, dpi=110)
        plt.close(fig)
        return path

    def plot_convergence(self, path, axis: str = "time") -> Path:
        """Convergence curves: best f - f* so far against time or evaluations, one panel per problem."""
        if axis not in ("time", "evals"):
            raise ValueError(f"axis must be 'time' or 'evals'; got {axis!r}")
        plt = _pyplot()
        probs = self._problems()
        ncols = min(len(probs), 5)
        nrows = math.ceil(len(probs) / ncols)
        fig, axes = plt.subplots(nrows, ncols, figsize=(max(3.3 * ncols, 8.0), 2.6 * nrows + 0.8), squeeze=False)
        handles = {}
        for ax, prob in zip(axes.flat, probs, strict=False):
            for r in self.runs:
                if f"{r.problem}-{r.n}" != prob or not r.trace:
                    continue
                x = np.asarray(r.trace["time"] if axis == "time" else r.trace["evals"], dtype=float)
                if axis == "time":
                    x = x * 1e3
                fbest = np.asarray(r.trace["f"], dtype=float)
                floor = 1e-16 * max(1.0, abs(r.f_star))
                gap = np.maximum(fbest - r.f_star, floor)
                (h,) = ax.step(x, gap, where="post", color=_COLOURS.get(r.method, "k"),
                               linestyle="-" if r.solver == "nsolve" else "--", linewidth=1.2)
                handles.setdefault(r.label, h)
            ax.set_yscale("log")
            ax.set_xscale("log")  # evaluations start at 1, times are positive
            ax.set_title(prob, fontsize=8)
            ax.tick_params(which="both", labelsize=6)
            ax.xaxis.set_minor_formatter(_null_formatter())
            ax.yaxis.set_minor_formatter(_null_formatter())
            ax.grid(True, alpha=0.3)
        for ax in list(axes.flat)[len(probs):]:
            ax.set_visible(False)
        xlabel = "time (ms, instrumented run)" if axis == "time" else "evaluations (f + gradient + Hessian)"
        fig.supxlabel(xlabel, fontsize=9)
        fig.supylabel("best f - f* so far", fontsize=9)
        fig.legend(list(handles.values()), list(handles), loc="upper center", ncol=min(len(handles), 4),
                   fontsize=8, frameon=False)
        fig.tight_layout(rect=(0, 0, 1, 1 - 0.5 / (2.6 * nrows + 0.8)))
        path = Path(path)
        fig.savefig(path, dpi=85)
        plt.close(fig)
        return path

    def save(self, out_dir, plots: bool = True, prefix: str = "compare", traces: bool = True) -> dict[str, Path]:
        """Write the CSV, JSON, Markdown table and (``plots``) the four PNG files into ``out_dir``.

        Files: ``<prefix>.csv``, ``<prefix>.json`` (with the convergence traces unless
        ``traces=False``), ``<prefix>_table.md``, ``<prefix>_profile_time.png``,
        ``<prefix>_profile_evals.png``, ``<prefix>_convergence_time.png``,
        ``<prefix>_convergence_evals.png``.
        """
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        written = {
            "csv": self.to_csv(out / f"{prefix}.csv"),
            "json": out / f"{prefix}.json",
            "markdown": out / f"{prefix}_table.md",
        }
        self.to_json(written["json"], traces=traces)
        written["markdown"].write_text(self.to_markdown())
        if plots:
            written["profile_time"] = self.plot_profiles(out / f"{prefix}_profile_time.png", "time")
            written["profile_evals"] = self.plot_profiles(out / f"{prefix}_profile_evals.png", "evals")
            written["convergence_time"] = self.plot_convergence(out / f"{prefix}_convergence_time.png", "time")
            written["convergence_evals"] = self.plot_convergence(out / f"{prefix}_convergence_evals.png", "evals")
        return written


def _json_default(obj):
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)


def _null_formatter():
    from matplotlib.ticker import NullFormatter

    return NullFormatter()


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise ImportError("the comparison plots need matplotlib: pip install 'nsolve[plot]' (or matplotlib); "
                          "the table, CSV and JSON work without it") from None
    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


# ------------------------------------------------------------------------------ compare
def _warmup(methods):
    """Compile (or load from the on-disk cache) nsolve's kernels for each method."""
    from nsolve import problems as lib

    p = lib.get("rosenbrock")
    case = _case_from_problem(p)
    for m in methods:
        _solve_nsolve(case, m, 1e-5, None)


def compare(
    problems=None,
    methods: Sequence[str] = DEFAULT_METHODS,
    *,
    f: Callable | None = None,
    grad: Callable | None = None,
    x0=None,
    hess: Callable | None = None,
    hessp: Callable | None = None,
    f_star: float | None = None,
    name: str | None = None,
    gtol: float = 1e-5,
    maxiter: int | None = None,
    repeat: int = 5,
    solve_tol: float = 1e-6,
    max_n: int | None = None,
    blas_threads: int | None = 1,
    progress: bool | None = None,
    out_dir=None,
    plots: bool = True,
) -> Comparison:
    """Run nsolve and scipy.optimize on the same problems; return the :class:`Comparison`.

    Parameters
    ----------
    problems : None, list of str / Problem / Case
        The problems: None for the built-in library (:func:`nsolve.problems.library`, or
        only the user's problem when ``f`` is given); names such as ``"rosenbrock"`` or
        ``"rosenbrock-10"`` (name-n); :class:`nsolve.problems.Problem` objects.
    methods : sequence of str
        nsolve methods, each compared with its scipy counterpart (:data:`SCIPY_COUNTERPART`).
    f, grad, x0, hess, hessp, f_star, name
        The user's own problem (see :func:`user_case`), added to ``problems``.
    gtol : float
        The common stopping rule :math:`\\|\\nabla f\\|_\\infty \\le \\mathrm{gtol}`.
    maxiter : int, optional
        The iteration limit of both; default each library's own.
    repeat : int
        Timed solves per (problem, solver); the median is reported.
    solve_tol : float
        :math:`\\tau` of the "solved" test :math:`f - f^* \\le \\tau \\max(1, f(x_0) - f^*)`.
    max_n : int, optional
        Leave out library problems with more variables (your own ``f`` always runs).
    blas_threads : int or None
        BLAS threads during the runs (threadpoolctl); None leaves the library default.
    progress : bool, optional
        Show a progress bar on stderr (default: when stderr is a terminal).
    out_dir : path, optional
        Write CSV, JSON, the Markdown table and (``plots``) the PNG figures there.
    plots : bool
        Draw the profiles and convergence curves when ``out_dir`` is given.

    Returns
    -------
    Comparison

    Examples
    --------
    >>> import nsolve
    >>> cmp = nsolve.compare(["rosenbrock", "beale"], methods=["bfgs"], repeat=1, progress=False)
    >>> [(r.problem, r.label, r.solved) for r in cmp.runs]  # doctest: +NORMALIZE_WHITESPACE
    [('rosenbrock', 'nsolve bfgs', True), ('rosenbrock', 'scipy BFGS', True),
     ('beale', 'nsolve bfgs', True), ('beale', 'scipy BFGS', True)]
    """
    from nsolve._validation import check_int, check_positive

    if isinstance(methods, str):
        methods = [methods]
    methods = [str(m).lower() for m in methods]
    bad = [m for m in methods if m not in SCIPY_COUNTERPART]
    if bad or not methods:
        raise ValueError(f"methods must be among {', '.join(SCIPY_COUNTERPART)} (those with a scipy counterpart); "
                         f"got {bad or methods}")
    gtol = check_positive(gtol, "gtol")
    solve_tol = check_positive(solve_tol, "solve_tol")
    repeat = check_int(repeat, "repeat", minimum=1)
    maxiter = check_int(maxiter, "maxiter", minimum=1, allow_none=True)
    max_n = check_int(max_n, "max_n", minimum=1, allow_none=True)

    cases: list[Case] = []
    if f is not None:
        if x0 is None:
            raise ValueError("x0 is required with a user objective f")
        cases.append(user_case(f, grad, x0, hess=hess, hessp=hessp, f_star=f_star, name=name))
        if any(m in ("newton", "newton-cg") for m in methods) and grad is None:
            raise ValueError("the Newton methods need the gradient: give grad, or compare methods=['bfgs', 'lbfgs']")
    if problems is not None or f is None:
        cases = _library_cases(problems, max_n) + cases
    if not cases:
        raise ValueError("no problems to compare (check max_n)")
    labels = [c.label for c in cases]
    twice = sorted({lab for lab in labels if labels.count(lab) > 1})
    if twice:  # runs are matched to their problem by name and size
        raise ValueError(f"problems must be distinct by name and size; {', '.join(twice)} appears twice "
                         "(name your own f with name=...)")
    if progress is None:
        progress = bool(getattr(sys.stderr, "isatty", lambda: False)())

    limit, blas_note = _blas_limit(blas_threads)
    settings = {
        "gtol": gtol, "solve_tol": solve_tol, "repeat": repeat, "maxiter": maxiter, "methods": methods,
        "blas": blas_note, "machine": f"{platform.machine()} {platform.processor()}".strip(),
        "cpus": os.cpu_count(), "python": platform.python_version(), "versions": _versions(),
        "loadavg_start": _loadavg(), "started": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    runs: list[Run] = []
    bar = _Progress(len(cases) * len(methods), progress)
    with limit:
        _warmup(methods)
        for case in cases:
            f0 = float(case.f(case.x0))
            for method in methods:
                bar.update(f"{case.label} {method}", step=0)
                pair = _run_pair(case, method, gtol, maxiter, repeat, f0)
                runs.extend(pair)
                bar.update(f"{case.label} {method}")
    bar.close()
    settings["loadavg_end"] = _loadavg()
    _finalize(runs, cases, solve_tol)
    result = Comparison(runs, settings)
    if out_dir is not None:
        result.save(out_dir, plots=plots)
    return result


def _versions() -> dict:
    import numpy
    import scipy

    import nsolve

    return {"nsolve": nsolve.__version__, "scipy": scipy.__version__, "numpy": numpy.__version__}


#: Consecutive timed runs of one library before the other's turn (see the module notes).
_TIMING_BLOCK = 3


def _run_pair(case: Case, method: str, gtol: float, maxiter: int | None, repeat: int, f0: float) -> list[Run]:
    solvers = {"nsolve": _solve_nsolve, "scipy": _solve_scipy}
    traces = {}
    for who, solve in solvers.items():  # instrumented run: the convergence trace (and a warm-up)
        rec = _Recorder(case)
        with contextlib.redirect_stdout(io.StringIO()):
            solve(rec.functions(), method, gtol, maxiter)
        traces[who] = rec.trace()
    times: dict[str, list[float]] = {k: [] for k in solvers}
    last = {}
    done = 0
    while done < repeat:  # blocks of up to _TIMING_BLOCK runs per library, the libraries alternating
        block = min(_TIMING_BLOCK, repeat - done)
        for who, solve in solvers.items():
            for _ in range(block):
                t = time.perf_counter()
                last[who] = solve(case, method, gtol, maxiter)
                times[who].append(time.perf_counter() - t)
        done += block
    runs = []
    for who in solvers:
        res, extra = last[who]
        run = _make_run(case, method, who, res, extra, times[who], f0)
        run.trace = traces[who]
        runs.append(run)
    runs[0].speedup = runs[1].time / runs[0].time if runs[0].time > 0 else None
    return runs


def _finalize(runs: list[Run], cases: list[Case], solve_tol: float) -> None:
    for case in cases:
        mine = [r for r in runs if r.problem == case.name and r.n == case.n]
        f_star = case.f_star if case.f_star is not None else min(
            (r.f for r in mine if math.isfinite(r.f)), default=math.nan)
        for r in mine:
            r.f_star = float(f_star)
            r.gap = r.f - f_star
            scale = max(1.0, r.f0 - f_star)
            r.solved = bool(math.isfinite(r.gap) and r.gap <= solve_tol * scale)
