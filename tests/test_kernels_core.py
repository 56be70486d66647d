"""Core kernels against dense reference formulas written independently with NumPy."""

import numpy as np
import pytest

from nsolve._kernels.finite_diff import fd_steps_into
from nsolve._kernels.newton import newton_direction_into
from nsolve._kernels.quasi_newton import (
    ALIGN_SLACK,
    BFGS_SMALL_N,
    LBFGS_BLOCK,
    LBFGS_GRAM_MIN,
    _bfgs_update_large,
    aligned_square,
    bfgs_update_direction_inplace,
    lbfgs_free_row,
    lbfgs_gram_form,
    lbfgs_kernel,
    lbfgs_workspace,
    symmetric_upper_matvec_into,
    symmetrize_from_upper_inplace,
)
from nsolve._kernels.vector import axpy_into, dot, norm2, norm_inf, step_stats


def dense_bfgs(H, s, y):
    """H+ = (I - rho s y') H (I - rho y s') + rho s s' (Nocedal & Wright eq. 6.17)."""
    rho = 1.0 / (y @ s)
    V = np.eye(len(s)) - rho * np.outer(y, s)
    return V.T @ H @ V + rho * np.outer(s, s)


def random_spd(rng, n, cond=10.0):
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    return Q @ np.diag(np.logspace(0, np.log10(cond), n)) @ Q.T


@pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 16, 1003])
def test_norm_inf_is_the_exact_maximum_with_nan_and_inf_anywhere(n):
    """The eight-lane maximum equals NumPy's, and a NaN (or inf) in any lane position shows."""
    rng = np.random.default_rng(n)
    a = 10.0 * rng.standard_normal(n)
    assert norm_inf(a) == (np.max(np.abs(a)) if n else 0.0)
    for pos in {0, n // 2, n - 1} if n else set():
        b = a.copy()
        b[pos] = np.nan
        assert np.isnan(norm_inf(b))
        b[pos] = -np.inf
        assert norm_inf(b) == np.inf
        b[(pos + 1) % n] = np.nan
        assert np.isnan(norm_inf(b)) or n == 1


def test_vector_kernels():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(7), rng.standard_normal(7)
    assert dot(a, b) == pytest.approx(a @ b, rel=1e-14)
    assert norm2(a) == pytest.approx(np.linalg.norm(a), rel=1e-14)
    assert norm_inf(a) == np.max(np.abs(a))
    assert np.isnan(norm_inf(np.array([1.0, np.nan, 2.0])))
    out = np.empty(7)
    axpy_into(out, a, 0.3, b)
    np.testing.assert_allclose(out, a + 0.3 * b, rtol=1e-15)
    ds, xm = step_stats(a, b)
    assert ds == np.max(np.abs(a - b)) and xm == np.max(np.abs(a))


def test_symmetric_upper_matvec():
    rng = np.random.default_rng(1)
    A = random_spd(rng, 9)
    U = np.triu(A) + np.tril(rng.standard_normal((9, 9)), -1) * 1e6  # garbage below the diagonal
    v = rng.standard_normal(9)
    out = np.empty(9)
    symmetric_upper_matvec_into(out, U, v)
    np.testing.assert_allclose(out, A @ v, rtol=1e-12)


@pytest.mark.parametrize("n", [1, 5, 8, 37])
def test_aligned_square_is_an_aligned_view(n):
    buf = np.zeros(n * n + ALIGN_SLACK)
    H = aligned_square(buf, n)
    assert H.shape == (n, n) and H.flags.c_contiguous and H.ctypes.data % 64 == 0
    H[-1, -1] = 3.0
    assert buf.max() == 3.0  # a view: the solver's workspace holds the matrix


@pytest.mark.parametrize("n", [9, 40])
def test_bfgs_update_values_do_not_depend_on_alignment(n):
    """The update pass peels columns up to a cache-line boundary: the same values, bit for bit,
    whatever the address of H."""
    rng = np.random.default_rng(n)
    H0 = random_spd(rng, n)
    x, g = rng.standard_normal(n), rng.standard_normal(n)
    s = 0.1 * rng.standard_normal(n)
    x_new, g_new = x + s, g + random_spd(rng, n) @ s
    outs = []
    for shift in range(8):  # H at every 8-byte offset of a cache line
        buf = np.zeros(n * n + 16)
        start = shift + (-buf.ctypes.data % 64) // 8
        H = buf[start : start + n * n].reshape(n, n)
        H[:] = H0
        d = -H0 @ g
        bfgs_update_direction_inplace(H, x, x_new, g, g_new, d, *np.empty((4, n)), 0, 1e-10)
        outs.append((np.triu(H), d))
    for Hk, dk in outs[1:]:
        np.testing.assert_array_equal(Hk, outs[0][0])
        np.testing.assert_array_equal(dk, outs[0][1])


@pytest.mark.parametrize("n", [1, 2, 5, BFGS_SMALL_N, BFGS_SMALL_N + 1, 30])
def test_bfgs_update_matches_dense_formula(n):
    rng = np.random.default_rng(n)
    H = random_spd(rng, n)
    x, g = rng.standard_normal(n), rng.standard_normal(n)
    A = random_spd(rng, n)  # a quadratic's Hessian gives s'y > 0
    s = 0.1 * rng.standard_normal(n)
    x_new, g_new = x + s, g + A @ s
    d = -H @ g
    Hk = H.copy()
    work = np.empty((4, n))
    updated = bfgs_update_direction_inplace(Hk, x, x_new, g, g_new, d, *work, 0, 1e-10)
    assert updated
    symmetrize_from_upper_inplace(Hk)
    expected = dense_bfgs(H, x_new - x, g_new - g)
    np.testing.assert_allclose(Hk, expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(d, -expected @ g_new, rtol=1e-9, atol=1e-12)
    # secant equation H+ y = s
    np.testing.assert_allclose(Hk @ (g_new - g), x_new - x, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("n", [6, BFGS_SMALL_N + 3])
@pytest.mark.parametrize("rule", [1, 2])
def test_bfgs_first_update_scales_identity(rule, n):
    """Rule 1: gamma = s's / s'y (long Barzilai-Borwein step); rule 2: s'y / y'y (N&W eq. 6.20)."""
    rng = np.random.default_rng(3)
    A = random_spd(rng, n)
    x, g = rng.standard_normal(n), rng.standard_normal(n)
    s = rng.standard_normal(n)
    x_new, g_new = x + s, g + A @ s
    y = g_new - g
    H = np.eye(n)
    d = -g.copy()
    bfgs_update_direction_inplace(H, x, x_new, g, g_new, d, *np.empty((4, n)), rule, 1e-10)
    symmetrize_from_upper_inplace(H)
    gamma = (s @ s) / (s @ y) if rule == 1 else (s @ y) / (y @ y)
    expected = dense_bfgs(gamma * np.eye(n), s, y)
    np.testing.assert_allclose(H, expected, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(d, -expected @ g_new, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("n", [4, BFGS_SMALL_N + 4])
def test_bfgs_update_skipped_on_bad_curvature(n):
    H = np.eye(n) * 2.0
    x, g = np.zeros(n), np.ones(n)
    x_new, g_new = np.ones(n), np.zeros(n)  # s'y = -n < 0
    d = -H @ g
    H0 = H.copy()
    assert not bfgs_update_direction_inplace(H, x, x_new, g, g_new, d, *np.empty((4, n)), 0, 1e-10)
    np.testing.assert_array_equal(H, H0)
    np.testing.assert_allclose(d, -H0 @ g_new)


@pytest.mark.parametrize("n", [1, 2, 3, 5, BFGS_SMALL_N])
@pytest.mark.parametrize("rule", [0, 2])
def test_small_bfgs_update_agrees_with_the_vectorised_passes(n, rule):
    """Up to ``BFGS_SMALL_N`` the update runs plain loops; the vectorised passes used above it
    compute the same formulas: the two agree to rounding on the same input (upper triangle
    and direction)."""
    rng = np.random.default_rng(10 * n + rule)
    H0 = np.eye(n) if rule else random_spd(rng, n)
    x, g = rng.standard_normal(n), rng.standard_normal(n)
    s = 0.1 * rng.standard_normal(n)
    x_new, g_new = x + s, g + random_spd(rng, n) @ s
    outs = []
    for update in (bfgs_update_direction_inplace, _bfgs_update_large):
        H = H0.copy()
        d = -H0 @ g
        assert update(H, x, x_new, g, g_new, d, *np.empty((4, n)), rule, 1e-10)
        outs.append((np.triu(H), d))
    np.testing.assert_allclose(outs[0][0], outs[1][0], rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(outs[0][1], outs[1][1], rtol=1e-13, atol=1e-15)


def test_bfgs_rejected_first_pair_does_not_scale_the_identity():
    """The first-step scaling gamma = s'y / y'y comes from the pair of the first update: a pair
    the curvature guard rejects leaves H = I (not gamma I) and d = -g."""
    n = 2
    H = np.eye(n)
    x, g = np.zeros(n), np.zeros(n)
    x_new, g_new = np.array([1.0, 0.0]), np.array([1e-12, 1.0])  # s'y = 1e-12: not safely positive
    d = np.empty(n)
    assert not bfgs_update_direction_inplace(H, x, x_new, g, g_new, d, *np.empty((4, n)), 2, 1e-10)
    np.testing.assert_array_equal(H, np.eye(n))
    np.testing.assert_array_equal(d, -g_new)


def test_bfgs_run_recovers_after_a_rejected_first_pair():
    """Through minimize (backtracking: no curvature guarantee): the run used to keep H = 1e-12 I
    from the rejected pair and crawl to maxiter; it must converge as with scale_h0=False."""
    import nsolve

    B = np.array([[1e-12, 1.0], [1.0, 0.0]])
    q = 1e-14

    def f(x):
        return 0.5 * x @ B @ x + q * (x @ x) ** 2

    def g(x):
        return B @ x + 4 * q * (x @ x) * x

    for kw in ({}, {"callback": lambda xk: None}):  # both drivers
        res = nsolve.minimize(f, g, [0.0, 1.0], method="bfgs", line_search="backtracking", maxiter=2000, **kw)
        assert res.success and res.nit < 200, (res.status, res.nit)


def dense_lbfgs_direction(pairs, g):
    """-H g with H built by applying the BFGS update to gamma I for each kept pair."""
    s, y = pairs[-1]
    H = (s @ y) / (y @ y) * np.eye(len(g))
    for s, y in pairs:
        H = dense_bfgs(H, s, y)
    return -H @ g


def lbfgs_update(S, Y, gram, work, ring, state, *rest):
    """The update of the form ``state[2]`` selects (as the solvers pick it)."""
    return lbfgs_kernel(state)(S, Y, gram, work, ring, state, *rest)


def lbfgs_arrays(n, m, gram_form):
    """History rows and the kernel's small arrays, with the form forced (0: vector, 1: Gram)."""
    gram, work, ring, state = lbfgs_workspace(n, m)
    state[2] = gram_form
    return np.empty((m + 1, n)), np.empty((m + 1, n)), gram, work, ring, state


def test_lbfgs_workspace_picks_the_gram_form_for_large_histories():
    assert lbfgs_workspace(1000, 10)[3].tolist() == [0, 10, 0]
    assert lbfgs_workspace(10**6, 10)[3].tolist() == [0, 10, 1]
    assert lbfgs_gram_form(LBFGS_GRAM_MIN // 11, 10) == 0
    assert lbfgs_gram_form(-(-LBFGS_GRAM_MIN // 11), 10) == 1


@pytest.mark.parametrize("gram_form", [0, 1])
@pytest.mark.parametrize("m", [1, 3, 5])
def test_lbfgs_two_loop_matches_dense_recursion(m, gram_form):
    rng = np.random.default_rng(10 + m)
    n = 8
    A = random_spd(rng, n, cond=50)
    S, Y, gram, work, ring, cm = lbfgs_arrays(n, m, gram_form)
    x = rng.standard_normal(n)
    g = A @ x
    d = np.empty(n)
    pairs = []
    for _ in range(m + 4):  # wrap around the circular buffer
        x_new = x - 0.1 * rng.standard_normal(n)
        g_new = A @ x_new
        pairs.append((x_new - x, g_new - g))
        pairs = pairs[-m:]
        step_ref = step_stats(x_new, x)
        updated, step_inf, x_inf = lbfgs_update(S, Y, gram, work, ring, cm, x, x_new, g, g_new,
                                                                  d, 1e-10)
        assert updated
        assert (step_inf, x_inf) == step_ref  # the step measured in the store pass
        np.testing.assert_array_equal(x, x_new)  # the step is accepted in the same pass
        np.testing.assert_array_equal(g, g_new)
        np.testing.assert_allclose(d, dense_lbfgs_direction(pairs, g_new), rtol=1e-9, atol=1e-12)
        x, g = x_new, g_new
    assert cm[0] == m


@pytest.mark.parametrize("m", [1, 4, 7])
def test_lbfgs_gram_form_matches_vector_form_over_several_blocks(m):
    """Long vectors (several blocks, an odd and an even number of pairs, a rejected pair):
    the two forms of the recursion agree to rounding."""
    rng = np.random.default_rng(30 + m)
    n = 2 * LBFGS_BLOCK + 123
    c = np.exp(rng.uniform(-3.0, 3.0, n))  # a diagonal Hessian of condition ~400
    runs = [lbfgs_arrays(n, m, form) for form in (0, 1)]
    x0 = rng.standard_normal(n)
    xs = [x0.copy(), x0.copy()]
    gs = [c * x0, c * x0]
    ds = [np.empty(n), np.empty(n)]
    for k in range(m + 4):
        x_new = xs[0] - 0.1 * rng.standard_normal(n)
        g_new = c * x_new if k != 2 else gs[0] - (c * x_new - gs[0])  # k = 2: negative curvature
        ups = [lbfgs_update(*runs[f], xs[f], x_new, gs[f], g_new, ds[f], 1e-10) for f in (0, 1)]
        assert ups[0] == ups[1]
        assert ups[0][0] == (k != 2)
        assert runs[0][5][0] == runs[1][5][0]  # count
        np.testing.assert_allclose(ds[1], ds[0], rtol=1e-11, atol=1e-13 * np.abs(ds[0]).max())
        np.testing.assert_array_equal(xs[0], xs[1])
        np.testing.assert_array_equal(gs[0], gs[1])


@pytest.mark.parametrize("gram_form", [0, 1])
@pytest.mark.parametrize("m", [1, 4])
def test_lbfgs_trial_point_in_the_free_rows_matches_separate_buffers(m, gram_form):
    """x_new, g_new as the history's free rows (the solvers' layout) give what separate buffers give, bit for bit."""
    rng = np.random.default_rng(20 + m)
    n = 7
    A = random_spd(rng, n, cond=30)
    ref, ours = lbfgs_arrays(n, m, gram_form), lbfgs_arrays(n, m, gram_form)
    x_ref = rng.standard_normal(n)
    g_ref = A @ x_ref
    x, g = x_ref.copy(), g_ref.copy()
    d_ref, d = np.empty(n), np.empty(n)
    for k in range(m + 5):
        step = -0.1 * rng.standard_normal(n)
        if k == 3:
            step = np.zeros(n)  # s = 0: rejected by the curvature guard
        x_new_ref = x_ref + step
        g_new_ref = A @ x_new_ref
        S, Y = ours[0], ours[1]
        free = lbfgs_free_row(ours[4], ours[5])
        S[free] = x_new_ref  # the line search writes its trial point there
        Y[free] = g_new_ref
        expected_step = step_stats(x_new_ref, x_ref)
        up_ref = lbfgs_update(*ref, x_ref, x_new_ref, g_ref, g_new_ref, d_ref, 1e-10)
        up = lbfgs_update(*ours, x, S[free], g, Y[free], d, 1e-10)
        assert up[0] == up_ref[0] == (k != 3)
        assert up[1:] == up_ref[1:] == expected_step
        np.testing.assert_array_equal(d, d_ref)
        np.testing.assert_array_equal(x, x_new_ref)
        np.testing.assert_array_equal(g, g_new_ref)
        np.testing.assert_array_equal(ours[5], ref[5])  # count
        used = ref[4][: ref[5][0]]
        np.testing.assert_array_equal(ours[4][: ours[5][0]], used)  # the ring
        for a_ref, a_ours in zip(ref[:2], ours[:2], strict=True):  # S, Y of the pairs in use
            np.testing.assert_array_equal(a_ours[used], a_ref[used])
        np.testing.assert_array_equal(ours[2][:, used][:, :, used], ref[2][:, used][:, :, used])  # their Gram entries
        x_ref, g_ref = x_new_ref, g_new_ref


@pytest.mark.parametrize("gram_form", [0, 1])
def test_lbfgs_rejected_pair_keeps_history(gram_form):
    rng = np.random.default_rng(5)
    n, m = 5, 2
    A = random_spd(rng, n)
    S, Y, gram, work, ring, cm = lbfgs_arrays(n, m, gram_form)
    d = np.empty(n)
    x, pairs = rng.standard_normal(n), []
    g = A @ x
    for _ in range(2):
        x_new = x - 0.1 * rng.standard_normal(n)
        g_new = A @ x_new
        pairs.append((x_new - x, g_new - g))
        lbfgs_update(S, Y, gram, work, ring, cm, x, x_new, g, g_new, d, 1e-10)
        x, g = x_new, g_new
    # a pair with negative curvature is rejected; the direction uses the two kept pairs
    x_new, g_new = x + 0.1, g - 0.1
    assert not lbfgs_update(S, Y, gram, work, ring, cm, x, x_new, g, g_new, d, 1e-10)[0]
    assert cm[0] == 2
    np.testing.assert_allclose(d, dense_lbfgs_direction(pairs, g_new), rtol=1e-9)


def test_newton_direction_positive_definite_is_pure_newton():
    rng = np.random.default_rng(7)
    A, g = random_spd(rng, 6, cond=1e3), rng.standard_normal(6)
    d = np.empty(6)
    tau = newton_direction_into(d, A, g, 1e-3)
    assert tau == 0.0
    np.testing.assert_allclose(d, np.linalg.solve(A, -g), rtol=1e-10)


def test_newton_direction_indefinite_adds_shift():
    H = np.diag([2.0, -1.0, 0.5])
    g = np.array([1.0, 1.0, 1.0])
    d = np.empty(3)
    tau = newton_direction_into(d, H, g, 1e-3)
    # min diag is -1 -> tau0 = 1 + 1e-3, which already makes H + tau I positive definite
    assert tau == pytest.approx(1.001)
    np.testing.assert_allclose((H + tau * np.eye(3)) @ d, -g, rtol=1e-12)
    assert d @ g < 0


def test_fd_steps():
    x = np.array([0.0, -3.0, 1e-9, 5e3])
    h = np.empty(4)
    fd_steps_into(h, x, 1e-8)
    expected = 1e-8 * np.maximum(1.0, np.abs(x)) * np.where(x < 0, -1.0, 1.0)
    np.testing.assert_allclose(h, expected, rtol=1e-6)
    np.testing.assert_array_equal((x + h) - x, h)  # exactly representable steps


@pytest.mark.parametrize("n", [1, 7, 64, 300])
def test_newton_direction_large_spd_matches_solve(n):
    """The LAPACK factorization and the row-oriented triangular solves give the solve to rounding."""
    rng = np.random.default_rng(n)
    A, g = random_spd(rng, n, cond=1e6), rng.standard_normal(n)
    d = np.empty(n)
    assert newton_direction_into(d, A, g, 1e-3) == 0.0
    np.testing.assert_allclose(A @ d, -g, rtol=0, atol=1e-8 * np.abs(g).max())


def test_newton_direction_uses_the_symmetric_part_and_leaves_h_unchanged():
    rng = np.random.default_rng(3)
    A, g = random_spd(rng, 40, cond=1e2), rng.standard_normal(40)
    S = rng.standard_normal((40, 40))
    H = A + 1e-2 * (S - S.T)  # same symmetric part, not symmetric
    H0 = H.copy()
    d = np.empty(40)
    assert newton_direction_into(d, H, g, 1e-3) == 0.0
    np.testing.assert_array_equal(H, H0)
    np.testing.assert_allclose(d, np.linalg.solve(A, -g), rtol=1e-10)


def test_newton_direction_shift_sequence_on_a_large_indefinite_matrix():
    """min diag > 0 but indefinite: tau = beta, 2 beta, 4 beta, ... until PD (N&W Alg. 3.3)."""
    rng = np.random.default_rng(5)
    n, beta = 120, 1e-3
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    ev = np.linspace(-0.01, 5.0, n)
    H = Q @ np.diag(ev) @ Q.T
    H = 0.5 * (H + H.T)
    assert np.min(np.diag(H)) > 0
    g = rng.standard_normal(n)
    d = np.empty(n)
    tau = newton_direction_into(d, H, g, beta)
    # first tried tau whose shifted matrix is PD: beta * 2^k with beta * 2^k > 0.01
    k = int(np.ceil(np.log2(0.01 / beta)))
    assert tau == pytest.approx(beta * 2.0 ** k) or tau == pytest.approx(beta * 2.0 ** (k + 1))
    np.testing.assert_allclose((H + tau * np.eye(n)) @ d, -g, rtol=0, atol=1e-9)
    assert d @ g < 0


def test_newton_direction_singular_to_rounding_is_shifted():
    """A PSD Hessian with an exact null space (here a duplicated column, as in an unpenalised
    logistic fit) factorises in floating point with a pivot of rounding size; dividing by it
    would send the direction ~1e16 times the gradient's rounding noise along the null space.
    Such a factorization counts as not positive definite: the direction is the shifted one."""
    rng = np.random.default_rng(3)
    Z = rng.standard_normal((50, 3))
    A = np.c_[Z, Z[:, 0]]  # columns 0 and 3 equal: null space along (1, 0, 0, -1)
    H = A.T @ A
    L = np.linalg.cholesky(H)  # succeeds (for this seed), with a last pivot of rounding size
    assert L[3, 3] ** 2 < 1e-15 * H[3, 3]
    g = H @ rng.standard_normal(4)
    g[0] += 1e-14 * abs(g[0])  # rounding-level component along the null space
    d = np.empty(4)
    tau = newton_direction_into(d, H, g, 1e-3)
    assert tau == 1e-3
    np.testing.assert_allclose(d, np.linalg.solve(H + tau * np.eye(4), -g), rtol=1e-8)
    assert abs(d[0] - d[3]) < 1e-6 * np.abs(d).max()  # nothing moves along the null space
    # a well-conditioned matrix (cond 1e12, far above rounding) keeps the pure Newton step
    B, gb = random_spd(rng, 5, cond=1e12), rng.standard_normal(5)
    assert newton_direction_into(np.empty(5), B, gb, 1e-3) == 0.0


def test_newton_direction_non_finite_hessian_falls_back_to_steepest_descent():
    H = np.array([[1.0, np.inf], [np.inf, 1.0]])
    g = np.array([1.0, -2.0])
    d = np.empty(2)
    assert newton_direction_into(d, H, g, 1e-3) == -1.0
    np.testing.assert_array_equal(d, -g)
