"""Smoke test of the issue-2 benchmark scripts: each ``main`` runs end to end at a tiny size.

No timing is asserted (benchmarks measure; tests check that the scripts keep working).  The
results directory is redirected to a temporary one, so the recorded figures in
``benchmarks/results`` are never overwritten.  The whole module takes a few seconds.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"

CASES = [
    ("bench_core_correctness", ["--quick", "--max-n", "2"], "core_correctness"),
    ("bench_bfgs_options", ["--quick"], "bfgs_options"),
    ("bench_bfgs_large", ["--quick", "--n", "20", "--iters", "3", "--repeat", "1"], "bfgs_large"),
    ("bench_overhead", ["--quick", "--sizes", "2", "--repeat", "1"], "overhead"),
    ("bench_lbfgs_huge", ["--quick", "--n", "2000", "--iters", "13", "--runs", "1"], "lbfgs_huge"),
    ("bench_startup", ["--quick", "--repeat", "1", "--cold", "0", "--no-refs"], "startup"),
]


@pytest.fixture
def bench_modules(monkeypatch, tmp_path):
    monkeypatch.syspath_prepend(str(BENCH))
    common = importlib.import_module("_common")
    monkeypatch.setattr(common, "RESULTS", tmp_path)
    return tmp_path


@pytest.mark.parametrize("module,argv,name", CASES, ids=[c[0] for c in CASES])
def test_benchmark_script_runs(bench_modules, module, argv, name, capsys):
    results = bench_modules
    mod = importlib.import_module(module)
    assert mod.main(argv) == 0
    md = (results / f"{name}.md").read_text()
    assert md.startswith("## ")
    assert f"python benchmarks/{module}.py --quick" in md
    data = json.loads((results / f"{name}.json").read_text())
    assert data
    # Nothing was written into the real results directory by this run.
    assert sys.modules["_common"].RESULTS == results


def test_core_correctness_verdicts(bench_modules):
    """The verdict logic against hand-made outcomes (independent of any solver)."""
    mod = importlib.import_module("bench_core_correctness")

    class P:
        f_star = 1.0
        has_local_minima = True

    p = P()
    ok = {"fun": 1.0 + 1e-9}
    miss = {"fun": 1.5}
    assert mod.reached(ok["fun"], p) and not mod.reached(1.0 + 2e-8, p)
    assert mod.classify(p, ok, ok) == "ok"
    assert mod.classify(p, miss, ok) == "fail"
    assert mod.classify(p, ok, miss) == "scipy-miss"
    assert mod.classify(p, miss, {"fun": 1.5 + 1e-9}) == "local-same"
    assert mod.classify(p, miss, {"fun": 2.0}) == "both-miss"
    p.has_local_minima = False
    assert mod.classify(p, miss, {"fun": 1.5}) == "both-miss"
