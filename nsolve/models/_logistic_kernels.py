r"""Numba kernels for the L2-penalised logistic and multinomial (softmax) objectives.

Everything here takes arrays and scalars only; the Python wrapper
:class:`nsolve.models.logistic.LogisticObjective` validates the data, owns the buffers and
adds the (cheap, :math:`O(p)`) penalty terms.

Objectives (data term only; the penalty is added by the caller)
----------------------------------------------------------------
Binary, with labels :math:`y_i \in \{0, 1\}`, weights :math:`s_i \ge 0` and margin
:math:`z_i = x_i^T w + b`:

.. math::

    L(w, b) = \sum_i s_i \left[\log(1 + e^{z_i}) - y_i z_i\right]
            = \sum_i s_i \log\left(1 + e^{-m_i}\right), \qquad m_i = (2 y_i - 1) z_i .

Gradient: :math:`\nabla_w L = \sum_i s_i (\sigma(z_i) - y_i) x_i` and
:math:`\partial_b L = \sum_i s_i (\sigma(z_i) - y_i)`.  Hessian of the data term:
:math:`\tilde X^T D \tilde X` with :math:`\tilde X = [X, 1]` and
:math:`D = \mathrm{diag}(s_i \sigma(z_i)(1 - \sigma(z_i)))`.

Multinomial, with :math:`K` classes, labels :math:`y_i \in \{0, \dots, K-1\}`, parameters
``[W.ravel(), b]`` (``W`` of shape ``(K, p)`` in C order, then ``K`` intercepts) and
:math:`z_{ik} = w_k^T x_i + b_k`:

.. math::

    L(W, b) = \sum_i s_i \left[\operatorname{logsumexp}(z_i) - z_{i y_i}\right],
    \qquad \nabla_{w_k} L = \sum_i s_i (\pi_{ik} - [y_i = k])\, x_i ,

with :math:`\pi_i = \operatorname{softmax}(z_i)`.  Hessian of the data term: block
:math:`(k, l)` is :math:`\sum_i s_i (\pi_{ik}\delta_{kl} - \pi_{ik}\pi_{il})\, \tilde x_i \tilde x_i^T`.

Numerics
--------
* Binary loss and residual come from one :math:`e = \exp(-|m|)`:
  :math:`\log(1 + e^{-m}) = \max(-m, 0) + \operatorname{log1p}(e)` and
  :math:`\sigma(-m) = e / (1 + e)` (``m >= 0``) or :math:`1 / (1 + e)` (``m < 0``); nothing
  overflows for any finite margin and both are accurate to relative rounding.  The curvature
  is :math:`\sigma(z)(1 - \sigma(z)) = e / (1 + e)^2`.
* Softmax uses the max-shift and :math:`\log \sum_k e^{z_k - z_{\max}} =
  \operatorname{log1p}(\sum_{k \ne k_{\max}} e^{z_k - z_{\max}})`, so confident rows keep
  their (tiny) loss to relative accuracy.
* ``X`` may be float32 or float64; every product is formed and accumulated in float64.
  Dot products use four independent accumulators (no ``fastmath``; the summation order is
  fixed, so results are deterministic for a given chunking).

Layouts and parallelism
-----------------------
Each operation has a *worker* that processes the rows ``lo:hi`` (optionally through an
index array ``rows`` for mini-batches) and adds into caller-provided accumulators, in one
of three layouts:

* ``_dense``: C-ordered dense ``X`` (one fused pass, row by row, while the row is in cache);
* ``_fblock``: Fortran-ordered dense ``X``, processed ``_BLOCK`` rows at a time column by
  column (contiguous column ``axpy``s build the block's margins, contiguous column dots
  accumulate its gradient while the block is still in cache); the full Hessian gathers
  each block into a small C-ordered scratch instead.  ``X`` is never copied as a whole;
* ``_csr``: CSR ``X`` given as ``(indptr, indices, data)``.

Each worker has a ``_par`` driver that splits the rows into ``n_chunks`` contiguous
chunks, runs them in a ``prange`` with one accumulator row (``G[c]``) and one loss slot
(``L[c]``) per chunk, and leaves the (deterministic, in chunk order) reduction to the
caller.  With one chunk the caller invokes the worker directly and no thread pool is
touched.

Per-row *state* (binary: :math:`d_i = s_i \sigma(z_i)(1 - \sigma(z_i))`; multinomial: the
probabilities :math:`\pi_i`) is optionally written by the fused loss/gradient pass so that
Hessian products at the same point need no new margin computation.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from nsolve._jit import kernel, parallel_kernel

#: Rows gathered per block by the Fortran-order workers.
_BLOCK = 1024


# --------------------------------------------------------------------------------------
# scalar and row primitives
# --------------------------------------------------------------------------------------


@kernel
def logistic_terms(z, y):
    r"""Loss, derivative and curvature of one binary term.

    Parameters
    ----------
    z : float
        Margin :math:`z = x^T w + b`.
    y : float
        Label, 0 or 1.

    Returns
    -------
    loss : float
        :math:`\log(1 + e^{z}) - y z`.
    dz : float
        :math:`\sigma(z) - y`.
    curv : float
        :math:`\sigma(z)(1 - \sigma(z))`.
    """
    if y > 0.5:
        m = z
        sgn = 1.0
    else:
        m = -z
        sgn = -1.0
    e = np.exp(-abs(m))
    if m >= 0.0:
        loss = np.log1p(e)
        q = e / (1.0 + e)
    else:
        loss = -m + np.log1p(e)
        q = 1.0 / (1.0 + e)
    return loss, -sgn * q, e / ((1.0 + e) * (1.0 + e))


@kernel
def softmax_terms(z, yi, prob):
    r"""Loss of one multinomial term; writes the softmax probabilities into ``prob``.

    Returns :math:`\operatorname{logsumexp}(z) - z_{y_i}` and sets
    :math:`\pi_k = e^{z_k} / \sum_l e^{z_l}`.
    """
    n_classes = z.shape[0]
    kmax = 0
    zmax = z[0]
    for k in range(1, n_classes):
        if z[k] > zmax:
            zmax = z[k]
            kmax = k
    rest = 0.0
    for k in range(n_classes):
        if k == kmax:
            prob[k] = 1.0
        else:
            e = np.exp(z[k] - zmax)
            prob[k] = e
            rest += e
    inv = 1.0 / (1.0 + rest)
    for k in range(n_classes):
        prob[k] *= inv
    return np.log1p(rest) + (zmax - z[yi])


@kernel
def _ddot(x, w, off):
    """Return ``sum_j x[j] * w[off + j]`` in float64 (four accumulators)."""
    n = x.shape[0]
    ws = w[off : off + n]
    s0 = 0.0
    s1 = 0.0
    s2 = 0.0
    s3 = 0.0
    n4 = n - n % 4
    for j in range(0, n4, 4):
        s0 += x[j] * ws[j]
        s1 += x[j + 1] * ws[j + 1]
        s2 += x[j + 2] * ws[j + 2]
        s3 += x[j + 3] * ws[j + 3]
    for j in range(n4, n):
        s0 += x[j] * ws[j]
    return (s0 + s1) + (s2 + s3)


@kernel
def _daxpy(g, off, a, x):
    """``g[off + j] += a * x[j]`` for every ``j``."""
    n = x.shape[0]
    gs = g[off : off + n]
    for j in range(n):
        gs[j] += a * x[j]


@kernel
def _sdot(data, indices, lo, hi, w, off):
    """Return ``sum_t data[t] * w[off + indices[t]]`` over ``t in lo:hi``."""
    s0 = 0.0
    s1 = 0.0
    t = lo
    while t + 2 <= hi:
        s0 += data[t] * w[off + indices[t]]
        s1 += data[t + 1] * w[off + indices[t + 1]]
        t += 2
    if t < hi:
        s0 += data[t] * w[off + indices[t]]
    return s0 + s1


@kernel
def _saxpy(g, off, a, data, indices, lo, hi):
    """``g[off + indices[t]] += a * data[t]`` over ``t in lo:hi``."""
    for t in range(lo, hi):
        g[off + indices[t]] += a * data[t]


@kernel
def _col_axpy(xc, rows, use_rows, start, nb, a, z):
    """``z[t] += a * xc[i_t]`` for the block rows ``i_t`` (``t < nb``) of the column ``xc``."""
    if use_rows:
        rs = rows[start : start + nb]
        for t in range(nb):
            z[t] += a * xc[rs[t]]
    else:
        xs = xc[start : start + nb]
        for t in range(nb):
            z[t] += a * xs[t]


@kernel
def _col_dot(xc, rows, use_rows, start, nb, r):
    """Return ``sum_t xc[i_t] * r[t]`` over the block rows of the column ``xc`` (four
    accumulators)."""
    s0 = 0.0
    s1 = 0.0
    s2 = 0.0
    s3 = 0.0
    n4 = nb - nb % 4
    if use_rows:
        rs = rows[start : start + nb]
        for t in range(0, n4, 4):
            s0 += xc[rs[t]] * r[t]
            s1 += xc[rs[t + 1]] * r[t + 1]
            s2 += xc[rs[t + 2]] * r[t + 2]
            s3 += xc[rs[t + 3]] * r[t + 3]
        for t in range(n4, nb):
            s0 += xc[rs[t]] * r[t]
    else:
        xs = xc[start : start + nb]
        for t in range(0, n4, 4):
            s0 += xs[t] * r[t]
            s1 += xs[t + 1] * r[t + 1]
            s2 += xs[t + 2] * r[t + 2]
            s3 += xs[t + 3] * r[t + 3]
        for t in range(n4, nb):
            s0 += xs[t] * r[t]
    return (s0 + s1) + (s2 + s3)


@kernel
def _gather_block(X, rows, use_rows, start, nb, Xb):
    """Copy rows ``start:start+nb`` (through ``rows`` if ``use_rows``) of F-ordered ``X``."""
    p = X.shape[1]
    if use_rows:
        for j in range(p):
            for t in range(nb):
                Xb[t, j] = X[rows[start + t], j]
    else:
        for j in range(p):
            for t in range(nb):
                Xb[t, j] = X[start + t, j]


@kernel
def _row_index(rows, use_rows, k):
    if use_rows:
        return rows[k]
    return k


@kernel
def _chunk_bounds(m, n_chunks, c):
    """Rows ``[lo, hi)`` of chunk ``c`` when ``m`` rows are split into ``n_chunks``."""
    return c * m // n_chunks, (c + 1) * m // n_chunks


# --------------------------------------------------------------------------------------
# binary: fused loss + gradient (+ optional curvature state)
# --------------------------------------------------------------------------------------


@kernel
def binary_fg_dense(X, y, sw, w, fit_intercept, rows, use_rows, lo, hi, need_grad, want_state, state, g):
    r"""Fused binary loss/gradient over rows ``lo:hi`` of C-ordered ``X``.

    Adds :math:`\sum_k s_i (\sigma(z_i) - y_i) [x_i, 1]` (``i = rows[k]`` if ``use_rows``
    else ``k``) into ``g`` when ``need_grad``, writes :math:`d_i = s_i \sigma(1-\sigma)` into
    ``state[i]`` when ``want_state`` and returns :math:`\sum_k s_i \ell_i`.
    """
    p = X.shape[1]
    b = w[p] if fit_intercept else 0.0
    loss = 0.0
    gb = 0.0
    for k in range(lo, hi):
        i = _row_index(rows, use_rows, k)
        s = sw[i]
        x = X[i]
        z = b + _ddot(x, w, 0)
        li, dz, curv = logistic_terms(z, y[i])
        loss += s * li
        if want_state:
            state[i] = s * curv
        if need_grad:
            r = s * dz
            _daxpy(g, 0, r, x)
            gb += r
    if fit_intercept and need_grad:
        g[p] += gb
    return loss


@kernel
def binary_fg_fblock(X, y, sw, w, fit_intercept, rows, use_rows, lo, hi, need_grad, want_state, state, g):
    """As :func:`binary_fg_dense` for Fortran-ordered ``X``.

    Rows are processed ``_BLOCK`` at a time column by column: the block's margins are built
    with contiguous column ``axpy``s, then the gradient with contiguous column dots while the
    block is still in cache.
    """
    p = X.shape[1]
    XT = X.T  # C-ordered view: XT[j] is column j, contiguous
    b = w[p] if fit_intercept else 0.0
    zb = np.empty(_BLOCK)
    loss = 0.0
    gb = 0.0
    start = lo
    while start < hi:
        nb = min(_BLOCK, hi - start)
        for t in range(nb):
            zb[t] = b
        for j in range(p):
            _col_axpy(XT[j], rows, use_rows, start, nb, w[j], zb)
        for t in range(nb):
            i = _row_index(rows, use_rows, start + t)
            s = sw[i]
            li, dz, curv = logistic_terms(zb[t], y[i])
            loss += s * li
            if want_state:
                state[i] = s * curv
            zb[t] = s * dz  # reuse the margin buffer for the residuals
            gb += zb[t]
        if need_grad:
            for j in range(p):
                g[j] += _col_dot(XT[j], rows, use_rows, start, nb, zb)
        start += nb
    if fit_intercept and need_grad:
        g[p] += gb
    return loss


@kernel
def binary_fg_csr(
    indptr, indices, data, y, sw, w, fit_intercept, rows, use_rows, lo, hi, need_grad, want_state, state, g
):
    """As :func:`binary_fg_dense` for CSR ``X`` given by ``(indptr, indices, data)``."""
    p = g.shape[0] - (1 if fit_intercept else 0)
    b = w[p] if fit_intercept else 0.0
    loss = 0.0
    gb = 0.0
    for k in range(lo, hi):
        i = _row_index(rows, use_rows, k)
        a = indptr[i]
        e = indptr[i + 1]
        s = sw[i]
        z = b + _sdot(data, indices, a, e, w, 0)
        li, dz, curv = logistic_terms(z, y[i])
        loss += s * li
        if want_state:
            state[i] = s * curv
        if need_grad:
            r = s * dz
            _saxpy(g, 0, r, data, indices, a, e)
            gb += r
    if fit_intercept and need_grad:
        g[p] += gb
    return loss


@parallel_kernel
def binary_fg_dense_par(X, y, sw, w, fit_intercept, rows, use_rows, m, need_grad, want_state, state, G, L):
    """Chunked :func:`binary_fg_dense` over ``m`` rows: chunk ``c`` adds into ``G[c]``, ``L[c]``."""
    nc = L.shape[0]
    for c in prange(nc):
        lo, hi = _chunk_bounds(m, nc, c)
        L[c] = binary_fg_dense(
            X, y, sw, w, fit_intercept, rows, use_rows, lo, hi, need_grad, want_state, state, G[c]
        )


@parallel_kernel
def binary_fg_fblock_par(X, y, sw, w, fit_intercept, rows, use_rows, m, need_grad, want_state, state, G, L):
    """Chunked :func:`binary_fg_fblock`."""
    nc = L.shape[0]
    for c in prange(nc):
        lo, hi = _chunk_bounds(m, nc, c)
        L[c] = binary_fg_fblock(
            X, y, sw, w, fit_intercept, rows, use_rows, lo, hi, need_grad, want_state, state, G[c]
        )


@parallel_kernel
def binary_fg_csr_par(
    indptr, indices, data, y, sw, w, fit_intercept, rows, use_rows, m, need_grad, want_state, state, G, L
):
    """Chunked :func:`binary_fg_csr`."""
    nc = L.shape[0]
    for c in prange(nc):
        lo, hi = _chunk_bounds(m, nc, c)
        L[c] = binary_fg_csr(
            indptr,
            indices,
            data,
            y,
            sw,
            w,
            fit_intercept,
            rows,
            use_rows,
            lo,
            hi,
            need_grad,
            want_state,
            state,
            G[c],
        )


# --------------------------------------------------------------------------------------
# binary: Hessian-vector product and full Hessian from the state d_i
# --------------------------------------------------------------------------------------


@kernel
def binary_hessp_dense(X, d, v, fit_intercept, lo, hi, out):
    r"""Add :math:`\sum_{i \in lo:hi} d_i (\tilde x_i^T v)\, \tilde x_i` into ``out``."""
    p = X.shape[1]
    vb = v[p] if fit_intercept else 0.0
    ob = 0.0
    for i in range(lo, hi):
        x = X[i]
        c = d[i] * (_ddot(x, v, 0) + vb)
        _daxpy(out, 0, c, x)
        ob += c
    if fit_intercept:
        out[p] += ob


@kernel
def binary_hessp_fblock(X, d, v, fit_intercept, lo, hi, out):
    """As :func:`binary_hessp_dense` for Fortran-ordered ``X`` (column-blocked)."""
    p = X.shape[1]
    XT = X.T  # C-ordered view: XT[j] is column j, contiguous
    vb = v[p] if fit_intercept else 0.0
    norows = np.empty(0, dtype=np.intp)
    ub = np.empty(_BLOCK)
    ob = 0.0
    start = lo
    while start < hi:
        nb = min(_BLOCK, hi - start)
        for t in range(nb):
            ub[t] = vb
        for j in range(p):
            _col_axpy(XT[j], norows, False, start, nb, v[j], ub)
        for t in range(nb):
            ub[t] *= d[start + t]
            ob += ub[t]
        for j in range(p):
            out[j] += _col_dot(XT[j], norows, False, start, nb, ub)
        start += nb
    if fit_intercept:
        out[p] += ob


@kernel
def binary_hessp_csr(indptr, indices, data, d, v, fit_intercept, lo, hi, out):
    """As :func:`binary_hessp_dense` for CSR ``X``."""
    p = out.shape[0] - (1 if fit_intercept else 0)
    vb = v[p] if fit_intercept else 0.0
    ob = 0.0
    for i in range(lo, hi):
        a = indptr[i]
        e = indptr[i + 1]
        c = d[i] * (_sdot(data, indices, a, e, v, 0) + vb)
        _saxpy(out, 0, c, data, indices, a, e)
        ob += c
    if fit_intercept:
        out[p] += ob


@parallel_kernel
def binary_hessp_dense_par(X, d, v, fit_intercept, G):
    """Chunked :func:`binary_hessp_dense` over all rows (chunk ``c`` adds into ``G[c]``)."""
    nc = G.shape[0]
    m = X.shape[0]
    for c in prange(nc):
        lo, hi = _chunk_bounds(m, nc, c)
        binary_hessp_dense(X, d, v, fit_intercept, lo, hi, G[c])


@parallel_kernel
def binary_hessp_fblock_par(X, d, v, fit_intercept, G):
    """Chunked :func:`binary_hessp_fblock`."""
    nc = G.shape[0]
    m = X.shape[0]
    for c in prange(nc):
        lo, hi = _chunk_bounds(m, nc, c)
        binary_hessp_fblock(X, d, v, fit_intercept, lo, hi, G[c])


@parallel_kernel
def binary_hessp_csr_par(indptr, indices, data, d, v, fit_intercept, G):
    """Chunked :func:`binary_hessp_csr`."""
    nc = G.shape[0]
    m = indptr.shape[0] - 1
    for c in prange(nc):
        lo, hi = _chunk_bounds(m, nc, c)
        binary_hessp_csr(indptr, indices, data, d, v, fit_intercept, lo, hi, G[c])


@kernel
def binary_hess_dense(X, d, fit_intercept, lo, hi, H):
    r"""Add the upper triangle of :math:`\sum_{i \in lo:hi} d_i \tilde x_i \tilde x_i^T` into ``H``."""
    p = X.shape[1]
    for i in range(lo, hi):
        x = X[i]
        di = d[i]
        for a in range(p):
            ca = di * x[a]
            if ca != 0.0:
                for b in range(a, p):
                    H[a, b] += ca * x[b]
                if fit_intercept:
                    H[a, p] += ca
        if fit_intercept:
            H[p, p] += di


@kernel
def binary_hess_fblock(X, d, fit_intercept, lo, hi, H):
    """As :func:`binary_hess_dense` for Fortran-ordered ``X``."""
    p = X.shape[1]
    Xb = np.empty((_BLOCK, p), dtype=X.dtype)
    norows = np.empty(0, dtype=np.intp)
    start = lo
    while start < hi:
        nb = min(_BLOCK, hi - start)
        _gather_block(X, norows, False, start, nb, Xb)
        binary_hess_dense(Xb, d[start : start + nb], fit_intercept, 0, nb, H)
        start += nb


@kernel
def binary_hess_csr(indptr, indices, data, d, fit_intercept, lo, hi, H):
    """As :func:`binary_hess_dense` for CSR ``X`` (both triangles of each nonzero pair are
    folded into the upper one, so unsorted or duplicate column indices are fine)."""
    p = H.shape[0] - (1 if fit_intercept else 0)
    for i in range(lo, hi):
        a0 = indptr[i]
        a1 = indptr[i + 1]
        di = d[i]
        for t in range(a0, a1):
            ja = indices[t]
            ca = di * data[t]
            for u in range(a0, a1):
                jb = indices[u]
                if ja < jb:
                    H[ja, jb] += ca * data[u]
                elif ja == jb and t <= u:
                    # diagonal: pairs (t, u) and (u, t) coincide in the upper triangle
                    H[ja, ja] += (ca * data[u]) if t == u else 2.0 * ca * data[u]
            if fit_intercept:
                H[ja, p] += ca
        if fit_intercept:
            H[p, p] += di


@parallel_kernel
def binary_hess_dense_par(X, d, fit_intercept, G):
    """Chunked :func:`binary_hess_dense` (chunk ``c`` adds into ``G[c]``)."""
    nc = G.shape[0]
    m = X.shape[0]
    for c in prange(nc):
        lo, hi = _chunk_bounds(m, nc, c)
        binary_hess_dense(X, d, fit_intercept, lo, hi, G[c])


@parallel_kernel
def binary_hess_fblock_par(X, d, fit_intercept, G):
    """Chunked :func:`binary_hess_fblock`."""
    nc = G.shape[0]
    m = X.shape[0]
    for c in prange(nc):
        lo, hi = _chunk_bounds(m, nc, c)
        binary_hess_fblock(X, d, fit_intercept, lo, hi, G[c])


@parallel_kernel
def binary_hess_csr_par(indptr, indices, data, d, fit_intercept, G):
    """Chunked :func:`binary_hess_csr`."""
    nc = G.shape[0]
    m = indptr.shape[0] - 1
    for c in prange(nc):
        lo, hi = _chunk_bounds(m, nc, c)
        binary_hess_csr(indptr, indices, data, d, fit_intercept, lo, hi, G[c])


# --------------------------------------------------------------------------------------
# multinomial: fused loss + gradient (+ optional probabilities)
# --------------------------------------------------------------------------------------


@kernel
def multi_fg_dense(
    X, y, sw, w, n_classes, fit_intercept, rows, use_rows, lo, hi, need_grad, want_state, state, g
):
    r"""Fused softmax loss/gradient over rows ``lo:hi`` of C-ordered ``X``.

    ``w`` is ``[W.ravel(), b]`` with ``W`` of shape ``(K, p)``; adds
    :math:`s_i(\pi_{ik} - [y_i = k]) x_i` into ``g[k*p:(k+1)*p]`` (and the intercept part into
    ``g[K*p + k]``), writes :math:`\pi_i` into ``state[i]`` when ``want_state`` and returns
    the weighted loss sum.
    """
    p = X.shape[1]
    K = n_classes
    kp = K * p
    z = np.empty(K)
    prob = np.empty(K)
    loss = 0.0
    for k in range(lo, hi):
        i = _row_index(rows, use_rows, k)
        s = sw[i]
        x = X[i]
        for c in range(K):
            z[c] = _ddot(x, w, c * p)
            if fit_intercept:
                z[c] += w[kp + c]
        yi = y[i]
        loss += s * softmax_terms(z, yi, prob)
        if want_state:
            for c in range(K):
                state[i, c] = prob[c]
        if need_grad:
            prob[yi] -= 1.0
            for c in range(K):
                r = s * prob[c]
                _daxpy(g, c * p, r, x)
                if fit_intercept:
                    g[kp + c] += r
    return loss


@kernel
def multi_fg_fblock(
    X, y, sw, w, n_classes, fit_intercept, rows, use_rows, lo, hi, need_grad, want_state, state, g
):
    """As :func:`multi_fg_dense` for Fortran-ordered ``X`` (column-blocked, see
    :func:`binary_fg_fblock`)."""
    p = X.shape[1]
    XT = X.T  # C-ordered view: XT[j] is column j, contiguous
    K = n_classes
    kp = K * p
    Zb = np.empty((K, _BLOCK))
    z = np.empty(K)
    prob = np.empty(K)
    loss = 0.0
    start = lo
    while start < hi:
        nb = min(_BLOCK, hi - start)
        for c in range(K):
            bc = w[kp + c] if fit_intercept else 0.0
            for t in range(nb):
                Zb[c, t] = bc
        for j in range(p):
            for c in range(K):
                _col_axpy(XT[j], rows, use_rows, start, nb, w[c * p + j], Zb[c])
        for t in range(nb):
            i = _row_index(rows, use_rows, start + t)
            s = sw[i]
            for c in range(K):
                z[c] = Zb[c, t]
            yi = y[i]
            loss += s * softmax_terms(z, yi, prob)
            if want_state:
                for c in range(K):
                    state[i, c] = prob[c]
            prob[yi] -= 1.0
            for c in range(K):
                Zb[c, t] = s * prob[c]  # residuals overwrite the margins
                if fit_intercept and need_grad:
                    g[kp + c] += Zb[c, t]
        if need_grad:
            for j in range(p):
                for c in range(K):
                    g[c * p + j] += _col_dot(XT[j], rows, use_rows, start, nb, Zb[c])
        start += nb
    return loss


@kernel
def multi_fg_csr(
    indptr,
    indices,
    data,
    y,
    sw,
    w,
    n_classes,
    fit_intercept,
    rows,
    use_rows,
    lo,
    hi,
    need_grad,
    want_state,
    state,
    g,
):
    """As :func:`multi_fg_dense` for CSR ``X``."""
    K = n_classes
    kp = g.shape[0] - (K if fit_intercept else 0)
    p = kp // K
    z = np.empty(K)
    prob = np.empty(K)
    loss = 0.0
    for k in range(lo, hi):
        i = _row_index(rows, use_rows, k)
        a = indptr[i]
        e = indptr[i + 1]
        s = sw[i]
        for c in range(K):
            z[c] = _sdot(data, indices, a, e, w, c * p)
            if fit_intercept:
                z[c] += w[kp + c]
        yi = y[i]
        loss += s * softmax_terms(z, yi, prob)
        if want_state:
            for c in range(K):
                state[i, c] = prob[c]
        if need_grad:
            prob[yi] -= 1.0
            for c in range(K):
                r = s * prob[c]
                _saxpy(g, c * p, r, data, indices, a, e)
                if fit_intercept:
                    g[kp + c] += r
    return loss


@parallel_kernel
def multi_fg_dense_par(
    X, y, sw, w, n_classes, fit_intercept, rows, use_rows, m, need_grad, want_state, state, G, L
):
    """Chunked :func:`multi_fg_dense`."""
    nc = L.shape[0]
    for c in prange(nc):
        lo, hi = _chunk_bounds(m, nc, c)
        L[c] = multi_fg_dense(
            X, y, sw, w, n_classes, fit_intercept, rows, use_rows, lo, hi, need_grad, want_state, state, G[c]
        )


@parallel_kernel
def multi_fg_fblock_par(
    X, y, sw, w, n_classes, fit_intercept, rows, use_rows, m, need_grad, want_state, state, G, L
):
    """Chunked :func:`multi_fg_fblock`."""
    nc = L.shape[0]
    for c in prange(nc):
        lo, hi = _chunk_bounds(m, nc, c)
        L[c] = multi_fg_fblock(
            X, y, sw, w, n_classes, fit_intercept, rows, use_rows, lo, hi, need_grad, want_state, state, G[c]
        )


@parallel_kernel
def multi_fg_csr_par(
    indptr,
    indices,
    data,
    y,
    sw,
    w,
    n_classes,
    fit_intercept,
    rows,
    use_rows,
    m,
    need_grad,
    want_state,
    state,
    G,
    L,
):
    """Chunked :func:`multi_fg_csr`."""
    nc = L.shape[0]
    for c in prange(nc):
        lo, hi = _chunk_bounds(m, nc, c)
        L[c] = multi_fg_csr(
            indptr,
            indices,
            data,
            y,
            sw,
            w,
            n_classes,
            fit_intercept,
            rows,
            use_rows,
            lo,
            hi,
            need_grad,
            want_state,
            state,
            G[c],
        )


# --------------------------------------------------------------------------------------
# multinomial: Hessian-vector product and full Hessian from the probabilities
# --------------------------------------------------------------------------------------


@kernel
def multi_hessp_dense(X, sw, P, v, fit_intercept, lo, hi, out):
    r"""Add the data-term Hessian times ``v`` over rows ``lo:hi`` into ``out``.

    With :math:`u_{ik} = v_k^T x_i + v_{b,k}`, row ``i`` contributes
    :math:`r_{ik} = s_i \pi_{ik}(u_{ik} - \sum_l \pi_{il} u_{il})` times :math:`\tilde x_i`
    to block ``k``.
    """
    p = X.shape[1]
    K = P.shape[1]
    kp = K * p
    u = np.empty(K)
    for i in range(lo, hi):
        x = X[i]
        pu = 0.0
        for c in range(K):
            uc = _ddot(x, v, c * p)
            if fit_intercept:
                uc += v[kp + c]
            u[c] = uc
            pu += P[i, c] * uc
        s = sw[i]
        for c in range(K):
            r = s * P[i, c] * (u[c] - pu)
            _daxpy(out, c * p, r, x)
            if fit_intercept:
                out[kp + c] += r


@kernel
def multi_hessp_fblock(X, sw, P, v, fit_intercept, lo, hi, out):
    """As :func:`multi_hessp_dense` for Fortran-ordered ``X`` (column-blocked)."""
    p = X.shape[1]
    XT = X.T  # C-ordered view: XT[j] is column j, contiguous
    K = P.shape[1]
    kp = K * p
    norows = np.empty(0, dtype=np.intp)
    Ub = np.empty((K, _BLOCK))
    start = lo
    while start < hi:
        nb = min(_BLOCK, hi - start)
        for c in range(K):
            vc = v[kp + c] if fit_intercept else 0.0
            for t in range(nb):
                Ub[c, t] = vc
        for j in range(p):
            for c in range(K):
                _col_axpy(XT[j], norows, False, start, nb, v[c * p + j], Ub[c])
        for t in range(nb):
            i = start + t
            pu = 0.0
            for c in range(K):
                pu += P[i, c] * Ub[c, t]
            for c in range(K):
                Ub[c, t] = sw[i] * P[i, c] * (Ub[c, t] - pu)
                if fit_intercept:
                    out[kp + c] += Ub[c, t]
        for j in range(p):
            for c in range(K):
                out[c * p + j] += _col_dot(XT[j], norows, False, start, nb, Ub[c])
        start += nb


@kernel
def multi_hessp_csr(indptr, indices, data, sw, P, v, fit_intercept, lo, hi, out):
    """As :func:`multi_hessp_dense` for CSR ``X``."""
    K = P.shape[1]
    kp = out.shape[0] - (K if fit_intercept else 0)
    p = kp // K
    u = np.empty(K)
    for i in range(lo, hi):
        a = indptr[i]
        e = indptr[i + 1]
        pu = 0.0
        for c in range(K):
            uc = _sdot(data, indices, a, e, v, c * p)
            if fit_intercept:
                uc += v[kp + c]
            u[c] = uc
            pu += P[i, c] * uc
        s = sw[i]
        for c in range(K):
            r = s * P[i, c] * (u[c] - pu)
            _saxpy(out, c * p, r, data, indices, a, e)
            if fit_intercept:
                out[kp + c] += r


@parallel_kernel
def multi_hessp_dense_par(X, sw, P, v, fit_intercept, G):
    """Chunked :func:`multi_hessp_dense`."""
    nc = G.shape[0]
    m = X.shape[0]
    for c in prange(nc):
        lo, hi = _chunk_bounds(m, nc, c)
        multi_hessp_dense(X, sw, P, v, fit_intercept, lo, hi, G[c])


@parallel_kernel
def multi_hessp_fblock_par(X, sw, P, v, fit_intercept, G):
    """Chunked :func:`multi_hessp_fblock`."""
    nc = G.shape[0]
    m = X.shape[0]
    for c in prange(nc):
        lo, hi = _chunk_bounds(m, nc, c)
        multi_hessp_fblock(X, sw, P, v, fit_intercept, lo, hi, G[c])


@parallel_kernel
def multi_hessp_csr_par(indptr, indices, data, sw, P, v, fit_intercept, G):
    """Chunked :func:`multi_hessp_csr`."""
    nc = G.shape[0]
    m = indptr.shape[0] - 1
    for c in prange(nc):
        lo, hi = _chunk_bounds(m, nc, c)
        multi_hessp_csr(indptr, indices, data, sw, P, v, fit_intercept, lo, hi, G[c])


@kernel
def _multi_hess_row(xa_idx, xa_val, s, P, i, p, fit_intercept, H, coef):
    r"""Add row ``i``'s contribution to the upper triangle of the multinomial Hessian.

    ``xa_idx``/``xa_val`` list the row's nonzero features (all of them for dense rows);
    ``coef`` is a ``(K, K)`` scratch for :math:`s_i(\pi_k\delta_{kl} - \pi_k\pi_l)`.
    """
    K = P.shape[1]
    kp = K * p
    nz = xa_idx.shape[0]
    for k in range(K):
        for l in range(K):
            coef[k, l] = -s * P[i, k] * P[i, l]
        coef[k, k] += s * P[i, k]
    for k in range(K):
        for l in range(k, K):
            c = coef[k, l]
            if c == 0.0:
                continue
            for t in range(nz):
                ja = xa_idx[t]
                ca = c * xa_val[t]
                ra = k * p + ja
                for u in range(nz):
                    jb = xa_idx[u]
                    cb = l * p + jb
                    if ra < cb:
                        H[ra, cb] += ca * xa_val[u]
                    elif ra == cb:
                        # (t, u) and (u, t) land on one diagonal entry: count each pair once
                        if t == u:
                            H[ra, ra] += ca * xa_val[u]
                        elif t < u:
                            H[ra, ra] += 2.0 * ca * xa_val[u]
                if fit_intercept:
                    H[ra, kp + l] += ca
                    if l != k:
                        # block (l, k) has the same coefficient: entry (l*p + ja, kp + k)
                        H[l * p + ja, kp + k] += ca
            if fit_intercept:
                H[kp + k, kp + l] += c


@kernel
def multi_hess_dense(X, sw, P, fit_intercept, lo, hi, H):
    r"""Add the upper triangle of the multinomial data-term Hessian over rows ``lo:hi``.

    Cost :math:`O((hi - lo) K^2 p^2)`.  Works for any dense layout (for Fortran order the
    strided row reads are negligible next to the :math:`K^2 p^2` work per row).
    """
    p = X.shape[1]
    K = P.shape[1]
    idx = np.arange(p)
    val = np.empty(p)
    coef = np.empty((K, K))
    for i in range(lo, hi):
        for j in range(p):
            val[j] = X[i, j]
        _multi_hess_row(idx, val, sw[i], P, i, p, fit_intercept, H, coef)


@kernel
def multi_hess_csr(indptr, indices, data, sw, P, fit_intercept, lo, hi, H):
    r"""As :func:`multi_hess_dense` for CSR ``X``: cost :math:`O(K^2 \mathrm{nnz}_i^2)` per row."""
    K = P.shape[1]
    p = (H.shape[0] - (K if fit_intercept else 0)) // K
    coef = np.empty((K, K))
    for i in range(lo, hi):
        a = indptr[i]
        e = indptr[i + 1]
        val = np.empty(e - a)
        for t in range(a, e):
            val[t - a] = data[t]
        _multi_hess_row(indices[a:e], val, sw[i], P, i, p, fit_intercept, H, coef)


@parallel_kernel
def multi_hess_dense_par(X, sw, P, fit_intercept, G):
    """Chunked :func:`multi_hess_dense`."""
    nc = G.shape[0]
    m = X.shape[0]
    for c in prange(nc):
        lo, hi = _chunk_bounds(m, nc, c)
        multi_hess_dense(X, sw, P, fit_intercept, lo, hi, G[c])


@parallel_kernel
def multi_hess_csr_par(indptr, indices, data, sw, P, fit_intercept, G):
    """Chunked :func:`multi_hess_csr`."""
    nc = G.shape[0]
    m = indptr.shape[0] - 1
    for c in prange(nc):
        lo, hi = _chunk_bounds(m, nc, c)
        multi_hess_csr(indptr, indices, data, sw, P, fit_intercept, lo, hi, G[c])
