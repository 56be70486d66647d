"""Logistic regression with nsolve on scikit-learn's bundled data: one model, five methods.

Fits ``nsolve.LogisticRegression`` (C = 1) on the standardised breast-cancer data (569 x 30,
binary) and on the digits (1797 x 64, ten classes, raw pixel values) with Newton (full
Hessian), Newton-CG (Hessian-vector products), L-BFGS, BFGS and Adam on mini-batches of 64
rows (100 epochs, the best fixed learning rate of a small grid), and compares them on the
same objective: the distance to the minimum (scikit-learn's
``newton-cholesky`` at ``tol=1e-12``), iterations, evaluations, wall time and training
accuracy, with ``method="auto"`` and scikit-learn's default ``lbfgs`` for reference.

Run ``python examples/logistic_regression.py``; it writes ``docs/img/logistic_methods.md``
(the table) and ``docs/img/logistic_methods.png`` (objective gap against time).
Timings: the median of three fits after a warm-up fit (compilation excluded), BLAS pinned to
one thread when threadpoolctl is installed.
"""

from __future__ import annotations

import contextlib
import time
import warnings
from pathlib import Path

import numpy as np

import nsolve

IMG = Path(__file__).resolve().parent.parent / "docs" / "img"

#: method -> options; Adam trains on mini-batches of 64 rows for 100 epochs, at the best
#: fixed learning rate of the grid {0.002, 0.005, 0.01, 0.02, 0.05} for each data set.
METHODS = {
    "auto": {},
    "newton": {},
    "newton-cg": {},
    "lbfgs": {},
    "bfgs": {},
    "adam": {"batch_size": 64, "epochs": 100},
}
ADAM_LR = {"breast cancer": 0.02, "digits": 0.005}


def datasets():
    from sklearn.datasets import load_breast_cancer, load_digits
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True)
    yield "breast cancer (569 x 30, standardised)", StandardScaler().fit_transform(X), y
    X, y = load_digits(return_X_y=True)
    yield "digits (1797 x 64, 10 classes, raw)", X, y


def blas_one_thread():
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


def timed_fit(make, repeat=3):
    make()  # warm-up: loads the compiled kernels
    times, model = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        model = make()
        times.append(time.perf_counter() - t)
    return model, float(np.median(times))


def run():
    from sklearn.linear_model import LogisticRegression as SkLR

    rows, curves = [], {}
    for name, X, y in datasets():
        best = SkLR(C=1.0, solver="newton-cholesky", tol=1e-12, max_iter=1000).fit(X, y)
        F_best = nsolve.LogisticRegression().fit(X, y).objective_
        F_best = min(F_best, _objective(best, X, y))
        curves[name] = {}
        for method, opts in METHODS.items():
            if method == "adam":
                opts = {**opts, "lr": next(v for k, v in ADAM_LR.items() if name.startswith(k))}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # Adam's fixed budget: "did not converge"
                model, t = timed_fit(
                    lambda m=method, o=opts, X=X, y=y: nsolve.LogisticRegression(method=m, options=o).fit(X, y)
                )
                hist = nsolve.LogisticRegression(method=method, options={**opts, "history": True}).fit(X, y)
            res = model.result_
            gap = max(model.objective_ - F_best, 0.0) / F_best
            label = f"auto ({model.method_})" if method == "auto" else method
            rows.append([name, label, res.nit, res.nfev, res.njev, res.nhev, f"{gap:.1e}", f"{1e3 * t:.1f}",
                         f"{model.score(X, y):.4f}"])
            h = hist.result_.history
            sw_sum = float(len(y))
            curves[name][label] = (h["time"] - h["time"][0], np.maximum(h["f"] / sw_sum - F_best, 0.0) / F_best)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sk, t = timed_fit(lambda X=X, y=y: SkLR(C=1.0).fit(X, y))
        gap = max(_objective(sk, X, y) - F_best, 0.0) / F_best
        rows.append([name, "scikit-learn lbfgs (defaults)", int(np.max(sk.n_iter_)), "", "", "", f"{gap:.1e}",
                     f"{1e3 * t:.1f}", f"{sk.score(X, y):.4f}"])
    return rows, curves


def _objective(model, X, y) -> float:
    """scikit-learn's objective (mean log-loss + ||W||^2 / (2 C n)) of a fitted model."""
    from nsolve.models import logistic_objective

    obj = logistic_objective(X, y, 1.0)
    return obj.f(obj.pack(model.coef_, model.intercept_)) / len(y)


def write(rows, curves) -> None:
    IMG.mkdir(parents=True, exist_ok=True)
    header = ["data", "method", "iterations", "f evals", "grad evals", "Hessian evals", "objective gap", "time (ms)",
              "train accuracy"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(v) for v in r) + " |" for r in rows]
    (IMG / "logistic_methods.md").write_text("\n".join(lines) + "\n")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # pragma: no cover
        return
    fig, axes = plt.subplots(1, len(curves), figsize=(6 * len(curves), 4.2))
    for ax, (name, by_method) in zip(np.atleast_1d(axes), curves.items(), strict=True):
        for label, (t, gap) in by_method.items():
            ax.semilogy(np.maximum(t, 1e-5) * 1e3, np.maximum(gap, 1e-17), marker=".", label=label)
        ax.set_title(name)
        ax.set_xlabel("time (ms, with history recording)")
        ax.set_ylabel("(F - F*) / F*")
        ax.set_xscale("log")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(IMG / "logistic_methods.png", dpi=110)


def main() -> None:
    with blas_one_thread():
        rows, curves = run()
    write(rows, curves)
    for r in rows:
        print(" | ".join(str(v) for v in r))
    print(f"wrote {IMG / 'logistic_methods.md'} and {IMG / 'logistic_methods.png'}")


if __name__ == "__main__":
    main()
