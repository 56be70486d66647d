"""Logistic regression on scipy.sparse CSR data: the compiled passes against scipy.sparse,
and fits against scikit-learn.

Data (C = 1, random labels from a fixed seed, ``scipy.sparse.random(..., random_state=0)``):

* ``csr-binary``: 100000 x 2000, density 0.01, two classes;
* ``csr-multi5``: the same X, five classes (multinomial);
* ``digits-csr``: scikit-learn's digits (1797 x 64, pixel values / 16, about half zero) as
  CSR, ten classes.

1. **One pass.**  ``LogisticObjective.fg`` (loss and gradient fused in one pass over the
   nonzeros) and ``hessp`` at a fixed point, against the same quantities written with
   scipy.sparse products (``X @ W.T``, the softmax or sigmoid, ``X.T @ R``: two passes),
   on one Numba thread and one BLAS thread (threadpoolctl); medians of interleaved repeats.
2. **Fit.**  ``nsolve.LogisticRegression()`` at its defaults (``tol=1e-7``) and with
   scikit-learn's ``tol=1e-4``, against scikit-learn's ``LogisticRegression()`` (lbfgs) at its
   defaults, all on one thread, medians of alternating fits; *gap* is
   ``(F - F_best) / |F_best|`` in nsolve's sum convention, against the lower of the two
   libraries run to tight tolerance.

Usage: ``python benchmarks/bench_logistic_sparse.py [--quick]`` (``--quick``: a tenth of the
rows, not written).
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import blas_threads, interleaved_times, md_table, write_section  # noqa: E402

COMMAND = "python benchmarks/bench_logistic_sparse.py"


def load(name: str, quick: bool):
    import scipy.sparse as sp

    if name == "digits-csr":
        from sklearn.datasets import load_digits

        X, y = load_digits(return_X_y=True)
        return sp.csr_matrix(X / 16.0), y
    m = 10000 if quick else 100000
    X = sp.random(m, 2000, density=0.01, format="csr", random_state=0)
    k = 2 if name == "csr-binary" else 5
    y = np.random.default_rng(0).integers(0, k, m)
    return X, y


def scipy_passes(X, y, obj):
    """(fg, hessp) of the objective written with scipy.sparse products."""
    from scipy.special import expit, logsumexp

    K = obj.n_classes if obj.multinomial else 1
    p = obj.n_features
    m = X.shape[0]
    rows = np.arange(m)
    yk = obj.y_encoded

    def fg(w):
        W = w[: K * p].reshape(K, p)
        Z = X @ W.T + w[K * p:]
        if obj.multinomial:
            lse = logsumexp(Z, axis=1)
            loss = float(np.sum(lse - Z[rows, yk]))
            R = np.exp(Z - lse[:, None])
            R[rows, yk] -= 1.0
        else:
            z = Z[:, 0]
            loss = float(np.sum(np.logaddexp(0.0, z) - yk * z))
            R = (expit(z) - yk)[:, None]
        G = (X.T @ R).T
        g = np.concatenate([G.ravel() + w[: K * p], R.sum(axis=0)])
        return loss + 0.5 * float(w[: K * p] @ w[: K * p]), g

    def hessp(w, v):
        W = w[: K * p].reshape(K, p)
        Z = X @ W.T + w[K * p:]
        U = X @ v[: K * p].reshape(K, p).T + v[K * p:]
        if obj.multinomial:
            P = np.exp(Z - logsumexp(Z, axis=1)[:, None])
            R = P * (U - np.sum(P * U, axis=1)[:, None])
        else:
            s = expit(Z[:, 0])
            R = (s * (1.0 - s) * U[:, 0])[:, None]
        G = (X.T @ R).T
        return np.concatenate([G.ravel() + v[: K * p], R.sum(axis=0)])

    return fg, hessp


def run(name: str, quick: bool, repeat: int) -> dict:
    import numba
    from sklearn.linear_model import LogisticRegression as SkLR

    import nsolve
    from nsolve.models import logistic_objective

    X, y = load(name, quick)
    obj = logistic_objective(X, y, 1.0)
    rng = np.random.default_rng(1)
    w = 0.05 * rng.standard_normal(obj.n_params)
    v = rng.standard_normal(obj.n_params)
    sfg, shessp = scipy_passes(X, y, obj)
    out: dict = {"shape": f"{X.shape[0]}x{X.shape[1]}", "nnz": int(X.nnz), "classes": int(obj.n_classes)}
    numba.set_num_threads(1)
    with blas_threads(1):
        f_ours, g_ours = obj.fg(w)
        f_ref, g_ref = sfg(w)
        out["fg_rel_err"] = max(abs(f_ours - f_ref) / abs(f_ref),
                                float(np.abs(g_ours - g_ref).max() / np.abs(g_ref).max()))
        h_ours, h_ref = obj.hessp(w, v), shessp(w, v)
        out["hessp_rel_err"] = float(np.abs(h_ours - h_ref).max() / np.abs(h_ref).max())

        def ours_fg():
            obj._cache_w = None  # a fresh pass every call
            obj.fg(w)

        t = interleaved_times({"ours_fg": ours_fg, "scipy_fg": lambda: sfg(w),
                               "ours_hessp": lambda: obj.hessp(w, v), "scipy_hessp": lambda: shessp(w, v)},
                              repeat=repeat)
        out.update({k: v * 1e3 for k, v in t.items()})

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tight_ours = nsolve.LogisticRegression(tol=1e-10, max_iter=10000).fit(X, y)
            tight_sk = SkLR(tol=1e-12, max_iter=20000).fit(X, y)
            F_best = min(obj.f(obj.pack(m.coef_, m.intercept_)) for m in (tight_ours, tight_sk))
            fits = {}

            def fit_ours():
                fits["nsolve"] = nsolve.LogisticRegression().fit(X, y)

            def fit_ours_sk_tol():
                fits["nsolve tol=1e-4"] = nsolve.LogisticRegression(tol=1e-4).fit(X, y)

            def fit_sk():
                fits["sk lbfgs"] = SkLR().fit(X, y)

            t = interleaved_times({"nsolve": fit_ours, "nsolve tol=1e-4": fit_ours_sk_tol, "sk lbfgs": fit_sk},
                                  repeat=max(3, repeat // 2))
        for k, m in fits.items():
            F = obj.f(obj.pack(m.coef_, m.intercept_))
            out[f"fit {k}"] = {"ms": t[k] * 1e3, "gap": max(F - F_best, 0.0) / abs(F_best),
                               "iters": int(np.max(m.n_iter_))}
        out["nsolve_method"] = fits["nsolve"].method_
    return out


def render(data: dict, load: tuple[str, str]) -> str:
    rows = []
    for name, d in data.items():
        rows.append([name, d["shape"], d["nnz"], d["classes"],
                     f"{d['ours_fg']:.2f}", f"{d['scipy_fg']:.2f}", f"{d['ours_fg'] / d['scipy_fg']:.2f}",
                     f"{d['ours_hessp']:.2f}", f"{d['scipy_hessp']:.2f}", f"{d['ours_hessp'] / d['scipy_hessp']:.2f}",
                     f"{max(d['fg_rel_err'], d['hessp_rel_err']):.0e}"])
    passes = md_table(["data", "shape", "nnz", "classes", "fg ours (ms)", "fg scipy.sparse (ms)", "ratio",
                       "hessp ours (ms)", "hessp scipy.sparse (ms)", "ratio", "max rel. difference"], rows)
    rows = []
    for name, d in data.items():
        a, a4, b = d["fit nsolve"], d["fit nsolve tol=1e-4"], d["fit sk lbfgs"]
        rows.append([name, d["nsolve_method"], f"{a['ms']:.1f}", a["iters"], f"{a['gap']:.1e}",
                     f"{a4['ms']:.1f}", a4["iters"], f"{a4['gap']:.1e}",
                     f"{b['ms']:.1f}", b["iters"], f"{b['gap']:.1e}", f"{a['ms'] / b['ms']:.2f}",
                     f"{a4['ms'] / b['ms']:.2f}"])
    fits = md_table(["data", "nsolve method (auto)", "nsolve fit (ms)", "iters", "gap", "nsolve tol=1e-4 (ms)",
                     "iters", "gap", "sk lbfgs fit (ms)", "iters", "gap", "nsolve / sk", "nsolve tol=1e-4 / sk"],
                    rows)
    return (
        "One Numba thread, one BLAS thread (threadpoolctl). *scipy.sparse*: the same quantities from "
        "scipy.sparse products (`X @ W.T`, the link function, `X.T @ R`); the last column is the larger "
        "relative difference of the two results (loss, gradient, Hessian-vector product).\n\n"
        "### One pass over the nonzeros\n\n" + passes + "\n\n"
        "### Fit (nsolve `LogisticRegression()` and `LogisticRegression(tol=1e-4)`, scikit-learn "
        "`LogisticRegression()`)\n\n" + fits +
        "\n\n*gap*: `(F - F_best) / |F_best|` with `F_best` the lower objective of nsolve (`tol=1e-10`) and "
        "scikit-learn lbfgs (`tol=1e-12`); scikit-learn's default fit stops at `max_iter=100` or `tol=1e-4`. "
        f"Load average at start / end: {load[0]} / {load[1]}.\n"
    )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    load0 = open("/proc/loadavg").read().split()[0] if os.path.exists("/proc/loadavg") else "?"
    data = {name: run(name, args.quick, 5 if args.quick else 15)
            for name in ("csr-binary", "csr-multi5", "digits-csr")}
    load1 = open("/proc/loadavg").read().split()[0] if os.path.exists("/proc/loadavg") else "?"
    body = render(data, (load0, load1))
    print(body)
    if not args.quick:
        path = write_section("logistic_sparse", "Logistic regression on sparse (CSR) data", COMMAND, body, data)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
