"""Learning-rate schedules: closed forms, epoch-to-step conversion, validation."""

from __future__ import annotations

import math

import numpy as np
import pytest

import nsolve
from nsolve.schedules import (
    SCHEDULES,
    BoundSchedule,
    Constant,
    Cosine,
    Exponential,
    InverseTime,
    Lambda,
    StepDecay,
    make_schedule,
)


def factors(schedule, steps, steps_per_epoch=1, max_steps=None):
    bound = schedule.bind(steps_per_epoch, steps if max_steps is None else max_steps)
    return np.array([bound(t) for t in range(steps)])


def test_constant():
    np.testing.assert_array_equal(factors(Constant(), 5), np.ones(5))
    assert Constant().bind(3, 10).constant and not Exponential().bind(1, 10).constant


def test_step_decay_every_k_epochs_in_steps():
    # 3 steps per epoch, halve every 2 epochs = every 6 steps
    got = factors(StepDecay(factor=0.5, every=2), 14, steps_per_epoch=3)
    want = [0.5 ** (t // 6) for t in range(14)]
    np.testing.assert_array_equal(got, want)


def test_exponential_is_continuous_in_the_step():
    got = factors(Exponential(rate=0.8), 7, steps_per_epoch=2)
    np.testing.assert_allclose(got, [0.8 ** (t / 2) for t in range(7)], rtol=1e-15)


def test_inverse_time():
    got = factors(InverseTime(decay=0.5), 5)
    np.testing.assert_allclose(got, [1 / (1 + 0.5 * t) for t in range(5)], rtol=1e-15)


def test_cosine_endpoints_and_midpoint():
    s = Cosine(period=4, min_factor=0.1)
    got = factors(s, 7)
    assert got[0] == 1.0
    assert got[2] == pytest.approx(0.1 + 0.9 * 0.5, rel=1e-15)
    assert got[4] == got[5] == got[6] == pytest.approx(0.1, rel=1e-15)
    # without a period: anneal over the run's budget (max_steps), in epochs
    got = factors(Cosine(), 10, steps_per_epoch=5, max_steps=20)
    np.testing.assert_allclose(got, [0.5 * (1 + math.cos(math.pi * t / 20)) for t in range(10)], rtol=1e-14)


def test_lambda_is_any_callable_of_the_step_and_checked():
    got = factors(Lambda(lambda t: 1.0 / (t + 1)), 4)
    np.testing.assert_allclose(got, [1, 1 / 2, 1 / 3, 1 / 4])
    with pytest.raises(ValueError, match="finite factor >= 0"):
        Lambda(lambda t: -1.0).bind(1, 10)
    with pytest.raises(TypeError, match="must return a real number"):
        Lambda(lambda t: "a").bind(1, 10)
    with pytest.raises(ValueError, match="at t=2"):
        b = Lambda(lambda t: math.inf if t == 2 else 1.0).bind(1, 10)
        [b(t) for t in range(3)]


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: StepDecay(factor=0.0), r"factor must lie in \(0.0, 1.0\]"),
        (lambda: StepDecay(factor=1.5), r"factor must lie in \(0.0, 1.0\]"),
        (lambda: StepDecay(every=0), "every must be >= 1"),
        (lambda: Exponential(rate=0), r"rate must lie in \(0.0, 1.0\]"),
        (lambda: InverseTime(decay=-1), "decay must be >= 0"),
        (lambda: Cosine(period=0), "period must be > 0"),
        (lambda: Cosine(min_factor=2), r"min_factor must lie in \[0.0, 1.0\]"),
        (lambda: make_schedule("linear"), "unknown schedule 'linear'; valid names: 'constant', 'step'"),
        (lambda: make_schedule(1.5), "schedule must be None, a name, a Schedule or a callable"),
    ],
)
def test_bad_schedules_name_the_argument(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


def test_names_resolve_to_the_classes_with_defaults():
    for name, cls in SCHEDULES.items():
        assert type(make_schedule(name)) is cls
    assert make_schedule("Inverse_Time") == InverseTime()
    assert isinstance(make_schedule(None), Constant)
    bound = StepDecay().bind(1, 5)
    assert isinstance(bound, BoundSchedule) and make_schedule(bound) == StepDecay()


def test_step_decay_through_minibatch_minimize_uses_epochs():
    """StepDecay(every=1 epoch) in a run of 5 steps per epoch changes the rate every 5 steps."""
    rng = np.random.default_rng(0)
    A = rng.standard_normal((20, 2))

    def fg(x, idx):
        r = A[idx] @ x - 1.0
        return 0.5 * float(r @ r) / len(idx), A[idx].T @ r / len(idx)

    res = nsolve.minimize(fg, True, np.zeros(2), method="sgd", n_samples=20, batch_size=4, epochs=3, lr=0.1,
                          schedule=StepDecay(factor=0.5, every=1), check_every=1, history=True, gtol=0.0)
    np.testing.assert_allclose(res.history["alpha"][1:], [0.1 * 0.5 ** (t // 5) for t in range(15)], rtol=1e-15)


def test_a_callable_schedule_is_only_called_at_the_steps_the_run_takes():
    """A linear decay that turns negative after step 100 is valid for a run that converges in
    24 steps: the run must not evaluate (and reject) it at later steps, whatever the path
    (the compiled solvers read a precomputed table, so such a schedule runs interpreted)."""
    def f(x):
        return 0.5 * float(x @ x)

    def g(x):
        return x.copy()

    seen = []

    def sched(t):
        seen.append(t)
        return 1.0 - t / 100

    nsolve.precompile(["sgd"])  # so that the run without a callback may take the compiled solver

    for kw in ({}, {"callback": lambda xk: None}):
        seen.clear()
        res = nsolve.minimize(f, g, np.ones(2), method="sgd", lr=0.5, schedule=sched, gtol=1e-6, **kw)
        assert res.success
        assert max(seen) <= res.nit  # called at t = 0 (the check) and at the steps taken


def test_nesterov_needs_momentum_like_torch():
    def f(x):
        return 0.5 * float(x @ x)

    with pytest.raises(ValueError, match="method 'nesterov' needs momentum > 0"):
        nsolve.minimize(f, lambda x: x.copy(), np.ones(2), method="nesterov", momentum=0.0)
    with pytest.raises(ValueError, match="nesterov=True needs momentum > 0"):
        nsolve.minimize(f, lambda x: x.copy(), np.ones(2), method="momentum", nesterov=True, momentum=0.0)
