"""The first-order examples run end to end on a reduced budget and write their PNGs.

Each example's ``main`` is called with a small budget and an output path in a temporary
directory; the numbers they print are checked against what the article shows.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))


def _png(path: Path) -> bool:
    return path.exists() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_sparse_neuron(tmp_path):
    import sparse_neuron

    out = tmp_path / "sparse.png"
    paths = sparse_neuron.main(maxiter=60, out=out)
    assert _png(out)
    assert set(paths) == {"gd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"}
    # the article's point: early on GD moves b far more than the sparse feature's w; AdaGrad moves w
    gd = paths["gd"]["path"]
    ada = paths["adagrad"]["path"]
    assert abs(gd[10, 1] - gd[0, 1]) > 5 * abs(gd[10, 0] - gd[0, 0])
    assert abs(ada[10, 0] - ada[0, 0]) > abs(gd[10, 0] - gd[0, 0])


def test_ravine_momentum(tmp_path):
    import ravine_momentum

    out = tmp_path / "ravine.png"
    res = ravine_momentum.main(maxiter=300, out=out)
    assert _png(out)
    gd = res["gradient descent"]
    mom = res["momentum, mu = 0.5"]
    assert gd["result"].success and mom["result"].success
    assert mom["result"].nit < gd["result"].nit / 2  # momentum reaches the minimum far sooner
    # and damps the zigzag across the ravine: smaller |y| over steps 10..20
    assert np.abs(mom["path"][10:20, 1]).max() < 0.2 * np.abs(gd["path"][10:20, 1]).max()


def test_learning_rate_sweep(tmp_path):
    import learning_rate_sweep

    from nsolve import Status

    out = tmp_path / "sweep.png"
    r = learning_rate_sweep.main(maxiter=120, out=out)
    assert _png(out)
    runs = list(r["sweep"].values())
    assert [Status(x.status) for x in runs[1:]] == [Status.GTOL, Status.MAXITER, Status.DIVERGED]
    small, right, large, div = (x.fun - r["f_star"] for x in runs)
    assert right < 1e-12 < large < small
    assert div > 0 and runs[3].fun <= runs[3].history["f"].min()
    assert list(r["rescue"].values())[1].success  # step decay rescues the divergent rate


def test_digits_mlp(tmp_path):
    pytest.importorskip("sklearn")
    import digits_mlp

    out = tmp_path / "digits.png"
    res = digits_mlp.main(epochs=2, out=out)
    assert _png(out)
    assert set(res) == {"sgd", "momentum", "adagrad", "rmsprop", "adam"}
    for r in res.values():
        assert len(r["loss"]) == 3 and r["loss"][-1] < r["loss"][0]


def test_benchmark_script_quick(monkeypatch, tmp_path):
    """bench_first_order.py runs end to end at a tiny size (no timing asserted)."""
    pytest.importorskip("sklearn")
    import importlib

    bench = Path(__file__).resolve().parent.parent / "benchmarks"
    monkeypatch.syspath_prepend(str(bench))
    common = importlib.import_module("_common")
    monkeypatch.setattr(common, "RESULTS", tmp_path)
    mod = importlib.import_module("bench_first_order")
    assert mod.main(["--quick"]) == 0
    text = (tmp_path / "first_order.md").read_text()
    assert "Parity with the published rules" in text and "**no**" not in text
