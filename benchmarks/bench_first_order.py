"""The first-order family: parity with the published rules, the Adam kernel against the
memory-traffic bound, the whole Adam loop on Rosenbrock, and the digits network.

1. **Parity.** Every method and variant, 100 steps through ``nsolve.minimize`` on a smooth
   non-quadratic function (n = 20), against the independent NumPy references of
   ``tests/reference_first_order.py`` driven by the same gradient function; the largest
   deviation of any iterate (target: 1e-12).
2. **One Adam step at n = 10^7** (the kernel ``adam_step_inplace``: reads x, g, m, v and
   writes x, m, v, 7 x 8 n bytes) against the bound 56 n / bandwidth, the bandwidth measured
   in the same run by ``_common.measure_bandwidth`` (a compiled one-core stream over arrays
   of the same size), next to a plain NumPy implementation of the same step (target: within
   1.5x of the bound).
3. **The whole loop.** Full-batch Adam, 10^4 steps on 2-D Rosenbrock with a Numba-compiled
   f and gradient, through ``nsolve.minimize``, against a plain NumPy/Python Adam loop
   written as in the source articles (the book code of seed 002: parameters in a dict,
   ``lr_t`` form), with a NumPy gradient and with the same compiled gradient; and, for
   scale, a loop compiled end to end around the same kernel (target: minimize at least 3x
   faster per step than the article loop).
4. **The digits network** (two-layer tanh network of ``examples/digits_mlp.py``, batch 32):
   every method's training loss after a fixed budget of epochs, at its default learning
   rate and at the best rate of a grid.
5. **Compile time** of the first Adam run in a fresh process: cold (empty Numba cache) and
   warm (on-disk cache).

Usage: ``python benchmarks/bench_first_order.py [--quick] [--no-write]``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "examples"))

from _common import blas_threads, interleaved_times, md_table, measure_bandwidth, write_section  # noqa: E402

import nsolve  # noqa: E402
from nsolve._kernels.first_order import adam_step_inplace  # noqa: E402

COMMAND = "python benchmarks/bench_first_order.py"


# ------------------------------------------------------------------------------------------
# 1. parity
# ------------------------------------------------------------------------------------------


def parity(steps: int = 100) -> tuple[str, list]:
    from test_first_order_kernels import CASES, case_id, hyper, make_reference

    rng = np.random.default_rng(3)
    n = 20
    U, _ = np.linalg.qr(rng.standard_normal((n, n)))
    Q = U @ np.diag(np.geomspace(0.1, 10.0, n)) @ U.T
    b = rng.standard_normal(n)
    x0 = 2.0 * rng.standard_normal(n)

    def f(x):
        return float(0.5 * x @ Q @ x + 0.25 * np.sum(x**4) - b @ x)

    def g(x):
        return Q @ x + x**3 - b

    rows, data = [], []
    cases = [c for c in CASES if c[0] != "momentum_classic"] + [("gd", {"lr": 0.02})]
    for rule, over in cases:
        xs = []
        if rule == "gd":
            opts = dict(over)
            want, x = [], x0.copy()
            for _ in range(steps):
                x = x - opts["lr"] * g(x)
                want.append(x)
        else:
            h = hyper(rule, over)
            opts = dict(h)
            if "beta1" in opts:
                opts["betas"] = (opts.pop("beta1"), opts.pop("beta2"))
            r = make_reference(rule, x0, h)
            want = [r.step(g(r.params)) for _ in range(steps)]
        nsolve.minimize(f, g, x0, method=rule, maxiter=steps, gtol=0.0, callback=xs.append, **opts)
        xs, want = np.array(xs), np.array(want)
        dev = float(np.max(np.abs(xs - want)))
        rel = float(np.max(np.abs(xs - want) / np.maximum(np.abs(want), 1.0)))
        label = case_id((rule, over))
        rows.append([rule, "`" + label.split("-", 1)[1] + "`" if "-" in label else "defaults", f"{dev:.1e}",
                     "yes" if rel <= 1e-12 else "**no**"])
        data.append({"case": label, "max_abs_dev": dev, "max_rel_dev": rel, "steps": len(xs)})
    worst = max(d["max_rel_dev"] for d in data)
    body = (f"{len(cases)} cases (every method; every variant: weight decay, dampening, Nesterov, centered, "
            f"AMSGrad and decoupled decay, eps placement), {steps} steps each through `nsolve.minimize`; "
            f"the references are `tests/reference_first_order.py`. Largest relative deviation of any "
            f"iterate: **{worst:.1e}** (target 1e-12).\n\n"
            + md_table(["method", "variant", "max abs deviation", "within 1e-12"], rows))
    return body, data


# ------------------------------------------------------------------------------------------
# 2. one Adam step at n = 10^7
# ------------------------------------------------------------------------------------------


def numpy_adam_step(x, g, m, v, t, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8):
    """The same step in plain NumPy (torch's formula, temporaries and all)."""
    m *= b1
    m += (1 - b1) * g
    v *= b2
    v += (1 - b2) * g * g
    bc1 = 1 - b1**t
    bc2 = np.sqrt(1 - b2**t)
    x -= (lr / bc1) * m / (np.sqrt(v) / bc2 + eps)


def adam_step(n: int, repeat: int) -> tuple[str, dict]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal(n)
    g = rng.standard_normal(n)
    m = np.zeros(n)
    v = np.zeros(n)
    xn, mn, vn = x.copy(), m.copy(), v.copy()
    adam_step_inplace(x[:10], g[:10], m[:10], v[:10], 1, 1e-3, 0.9, 0.999, 1e-8, 0.0)  # compile / load
    times = interleaved_times({
        "kernel": lambda: adam_step_inplace(x, g, m, v, 5, 1e-3, 0.9, 0.999, 1e-8, 0.0),
        "numpy": lambda: numpy_adam_step(xn, g, mn, vn, 5),
    }, repeat=repeat, warmup=1)
    bw = measure_bandwidth(8 * n, repeat=repeat)
    traffic = 7 * 8 * n
    bound = traffic / bw
    ratio = times["kernel"] / bound
    rows = [
        ["memory-traffic bound (56 n bytes / bandwidth)", f"{bound * 1e3:.1f}", "1.00", "-"],
        ["nsolve kernel `adam_step_inplace`", f"{times['kernel'] * 1e3:.1f}", f"{ratio:.2f}",
         f"{traffic / times['kernel'] / 1e9:.1f}"],
        ["plain NumPy step", f"{times['numpy'] * 1e3:.1f}", f"{times['numpy'] / bound:.2f}",
         f"{traffic / times['numpy'] / 1e9:.1f} (effective)"],
    ]
    body = (f"n = {n:.0e}, float64; bandwidth measured in this run (one core, compiled stream over "
            f"arrays of 8n bytes): **{bw / 1e9:.1f} GB/s**. Median of {repeat} interleaved repeats.\n\n"
            + md_table(["Adam step", "ms", "x bound", "GB/s of x,g,m,v traffic"], rows)
            + f"\n\nKernel / bound = **{ratio:.2f}** (target <= 1.5); the NumPy step is "
              f"{times['numpy'] / times['kernel']:.1f}x slower than the kernel.")
    return body, {"n": n, "bandwidth": bw, "bound_s": bound, "kernel_s": times["kernel"],
                  "numpy_s": times["numpy"], "kernel_over_bound": ratio}


# ------------------------------------------------------------------------------------------
# 3. the whole Adam loop on 2-D Rosenbrock
# ------------------------------------------------------------------------------------------


class ArticleAdam:
    """Adam as the article's book code writes it: dict parameters, the ``lr_t`` form."""

    def __init__(self, lr=1e-3, beta1=0.9, beta2=0.999):
        self.lr, self.beta1, self.beta2 = lr, beta1, beta2
        self.iter = 0
        self.m = None
        self.v = None

    def update(self, params, grads):
        if self.m is None:
            self.m = {k: np.zeros_like(p) for k, p in params.items()}
            self.v = {k: np.zeros_like(p) for k, p in params.items()}
        self.iter += 1
        lr_t = self.lr * np.sqrt(1.0 - self.beta2**self.iter) / (1.0 - self.beta1**self.iter)
        for k in params:
            self.m[k] += (1 - self.beta1) * (grads[k] - self.m[k])
            self.v[k] += (1 - self.beta2) * (grads[k] ** 2 - self.v[k])
            params[k] -= lr_t * self.m[k] / (np.sqrt(self.v[k]) + 1e-7)


def rosen_grad_numpy(x):
    return np.array([-400.0 * x[0] * (x[1] - x[0] ** 2) - 2.0 * (1.0 - x[0]), 200.0 * (x[1] - x[0] ** 2)])


def article_loop(grad, steps):
    params = {"x": np.array([-1.2, 1.0])}
    opt = ArticleAdam()
    for _ in range(steps):
        opt.update(params, {"x": grad(params["x"])})
    return params["x"]


def _compiled_loop():
    from numba import njit

    from nsolve._kernels.first_order import adam_step_inplace as kern

    @njit(cache=True)
    def loop(x, g_fn, steps):
        m = np.zeros_like(x)
        v = np.zeros_like(x)
        for t in range(1, steps + 1):
            g = g_fn(x)
            kern(x, g, m, v, t, 1e-3, 0.9, 0.999, 1e-8, 0.0)
        return x

    return loop


def rosen_loop(steps: int, repeat: int) -> tuple[str, dict]:
    from numba import njit

    from nsolve import problems

    p = problems.get("rosenbrock").jit()
    f_jit, g_jit = p.f, p.grad

    @njit(cache=True)
    def fg_jit(x):
        a = x[1] - x[0] * x[0]
        b = 1.0 - x[0]
        return 100.0 * a * a + b * b, np.array([-400.0 * x[0] * a - 2.0 * b, 200.0 * a])

    x0 = np.array([-1.2, 1.0])
    loop = _compiled_loop()
    fg_jit(x0)
    f_jit(x0)
    g_jit(x0)
    loop(x0.copy(), g_jit, 10)

    def ours_fused():
        return nsolve.minimize(fg_jit, True, x0, method="adam", maxiter=steps, gtol=0.0)

    def ours_separate():
        return nsolve.minimize(f_jit, g_jit, x0, method="adam", maxiter=steps, gtol=0.0)

    fns = {
        "nsolve.minimize, fused compiled f+grad (grad=True)": ours_fused,
        "nsolve.minimize, compiled f and grad": ours_separate,
        "article loop, NumPy gradient": lambda: article_loop(rosen_grad_numpy, steps),
        "article loop, same compiled gradient": lambda: article_loop(g_jit, steps),
        "compiled loop around the same kernel (for scale)": lambda: loop(x0.copy(), g_jit, steps),
    }
    res = ours_fused()
    assert res.nit == steps and res.nfev == steps + 1
    times = interleaved_times(fns, repeat=repeat, warmup=1)
    base = times["article loop, NumPy gradient"]
    rows = [[k, f"{t / steps * 1e6:.2f}", f"{base / t:.2f}"] for k, t in times.items()]
    nsolve_keys = ["nsolve.minimize, compiled f and grad", "nsolve.minimize, fused compiled f+grad (grad=True)"]
    best_key = min(nsolve_keys, key=lambda k: times[k])
    best = times[best_key]
    same_grad = times["article loop, same compiled gradient"]
    body = (f"2-D Rosenbrock from (-1.2, 1), Adam lr = 1e-3, {steps} steps, whole loop (f and gradient "
            f"evaluations included; minimize also evaluates f every step, tracks the best point and runs "
            f"the stopping tests). Median of {repeat} interleaved repeats.  With separate Numba f and grad, "
            f"`minimize` runs the whole loop compiled (the compiled path, docs/compiled.md); with grad=True "
            f"(a fused f+grad) it runs the interpreted driver.\n\n"
            + md_table(["loop", "us / step", "speed-up vs article loop (NumPy gradient)"], rows)
            + f"\n\n`minimize` ({best_key}) vs the article loop: **{base / best:.2f}x** (NumPy gradient), "
              f"**{same_grad / best:.2f}x** (same compiled gradient); target >= 3x: "
              + ("met" if base / best >= 3 else "**NOT met**") + ". "
              f"The compiled loop around the same kernel alone does a step in "
              f"{times['compiled loop around the same kernel (for scale)'] / steps * 1e6:.2f} us; the "
              f"interpreted driver (grad=True) pays the objective wrapper, the best-point bookkeeping, "
              f"the stopping tests and a kernel dispatch on every step.")
    return body, {k: t / steps for k, t in times.items()} | {
        "speedup_numpy_grad": base / best, "speedup_same_grad": same_grad / best}


# ------------------------------------------------------------------------------------------
# 4. the digits network
# ------------------------------------------------------------------------------------------

LR_GRID = [1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1.0]


def digits(epochs: int, grid: list[float]) -> tuple[str, list]:
    import digits_mlp

    net, w0, X_test, y_test = digits_mlp.load_digits_net()
    methods = ["gd", "sgd", "momentum", "nesterov", "sgdw", "adagrad", "rmsprop", "adadelta", "adam", "amsgrad",
               "adamw", "adamax", "nadam", "radam"]
    rows, data = [], []
    for method in methods:
        default_lr = nsolve.method_options(method)["lr"]
        finals = {}
        for lr in sorted(set(grid) | {default_lr}):
            if method == "gd":
                res = nsolve.minimize(net.batch_fg, True, w0, method="gd", n_samples=net.n_samples, lr=lr,
                                      maxiter=epochs, gtol=0.0)
            else:
                res, _ = digits_mlp.train(net, w0, method, epochs, lr=lr)
            finals[lr] = res
        best_lr = min(finals, key=lambda k: finals[k].fun if np.isfinite(finals[k].fun) else np.inf)
        d = finals[default_lr]
        b = finals[best_lr]
        rows.append([method, f"{default_lr:g}", f"{d.fun:.4f}", f"{best_lr:g}", f"{b.fun:.4f}",
                     f"{net.accuracy(b.x, X_test, y_test):.3f}"])
        data.append({"method": method, "default_lr": default_lr, "loss_default": d.fun, "best_lr": best_lr,
                     "loss_best": b.fun, "test_accuracy_best": net.accuracy(b.x, X_test, y_test)})
    body = (f"Two-layer tanh network (64-64-10, {net.n_params} parameters) of `examples/digits_mlp.py` on "
            f"{net.n_samples} training digits, mean cross-entropy, batch 32 (`gd`: full batch, one step per "
            f"epoch), {epochs} epochs, seed 0, same start for every method. Loss = the full training loss "
            f"of the best epoch-end point (what `minimize` returns). Learning-rate grid "
            f"{', '.join(f'{g:g}' for g in grid)} plus each method's default.\n\n"
            + md_table(["method", "default lr", f"loss after {epochs} epochs", "best lr", "loss at best lr",
                        "test accuracy at best lr"], rows))
    return body, data


# ------------------------------------------------------------------------------------------
# 5. compile time
# ------------------------------------------------------------------------------------------

_FIRST_RUN = """
import time
t = time.perf_counter()
import numpy as np
import nsolve
t1 = time.perf_counter()
nsolve.minimize(lambda x: float(x @ x), lambda x: 2 * x, np.ones(3), method="adam", maxiter=5)
t2 = time.perf_counter()
print(t1 - t, t2 - t1)
"""


def compile_time() -> tuple[str, dict]:
    out = {}
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        for label in ("cold", "warm"):
            r = subprocess.run([sys.executable, "-c", _FIRST_RUN], env=env, capture_output=True, text=True,
                               check=True)
            imp, first = (float(v) for v in r.stdout.split())
            out[label] = {"import_s": imp, "first_adam_run_s": first}
    rows = [[k, f"{v['import_s']:.2f}", f"{v['first_adam_run_s']:.2f}"] for k, v in out.items()]
    body = ("A fresh process importing nsolve and running 5 Adam steps on a 3-variable function: cold "
            "(empty Numba cache: compiles the Adam kernel and the driver's vector kernels) and warm (the "
            "on-disk cache of the cold run).\n\n"
            + md_table(["Numba cache", "import nsolve (s)", "first Adam run (s)"], rows))
    return body, out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes and budgets (a smoke run)")
    ap.add_argument("--no-write", action="store_true", help="print only, do not write results/")
    args = ap.parse_args(argv)
    quick = args.quick
    sections, data = [], {}
    with blas_threads(1):
        body, data["parity"] = parity(10 if quick else 100)
        sections.append("### Parity with the published rules (float64)\n\n" + body)
        body, data["adam_step"] = adam_step(10**5 if quick else 10**7, 3 if quick else 9)
        sections.append("### One Adam step at n = 10^7 vs the memory-traffic bound\n\n" + body)
        body, data["rosenbrock"] = rosen_loop(200 if quick else 10**4, 2 if quick else 7)
        sections.append("### Full-batch Adam on 2-D Rosenbrock, whole loop\n\n" + body)
        body, data["digits"] = digits(1 if quick else 20, [1e-2] if quick else LR_GRID)
        sections.append("### The digits network: loss after a fixed budget of epochs\n\n" + body)
    if not quick:
        body, data["compile"] = compile_time()
        sections.append("### Compile time (Numba)\n\n" + body)
    load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else ["?"]
    text = (f"BLAS pinned to one thread (threadpoolctl). Load average at the end: {' '.join(load)} "
            f"(2 cores shared with other jobs; timings are ratios of interleaved repeats).\n\n"
            + "\n\n".join(sections))
    print(text)
    if not args.no_write:
        path = write_section("first_order", "First-order methods (issue 3)", COMMAND + (" --quick" if quick else ""),
                             text, data)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
