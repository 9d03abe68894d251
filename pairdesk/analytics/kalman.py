"""The Kalman hedge: a dynamic regression a_t = alpha_t + beta_t * b_t whose slope and intercept
are identifiable and whose observation noise is estimated from the data.

Model (West & Harrison's discount regression with unknown observation variance), in units that
keep slope and intercept apart: y_t = a_t / a0 and u_t = (b_t / b0 - 1) / s, with (a0, b0) the
first prices of the segment and s the standard deviation of b_t / b0 over the burn-in, so the
regressor is centred near zero with unit scale and the intercept is the level at b0 rather than
at b = 0 (there the two are nearly collinear, since b never goes near zero):

    y_t = gamma_t + beta'_t * u_t + v_t,      v_t ~ N(0, V)      (V unknown, learnt)
    (gamma, beta')_t = (gamma, beta')_{t-1} + w_t,  Var(w_t) = C_{t-1} (1 / lambda - 1)

with the discount lambda = 1 - 1 / hedge_window: the coefficients forget the past over about
``hedge_window`` bars, V over at most VARIANCE_MEMORY_BARS. The filter starts from OLS on the segment's first ``hedge_window`` bars
(its burn-in: no z there). For bar t it forecasts y_t from the state after bar t-1, so

    spread_t = a_t - alpha_{t-1} - beta_{t-1} * b_t     (the one-step forecast error, in price units)
    zscore_t = spread_t / forecast_std_t                 (the standardised forecast error)

where forecast_std_t includes both the coefficients' uncertainty and V's estimate from bars up
to t-1. Back in price units beta = beta' * a0 / (b0 s) and alpha = a0 * (gamma - beta' / s).
"""
from __future__ import annotations

import math

import numpy as np

# V (the observation noise) is learnt over at most this many bars: volatility moves faster than the
# hedge relation, and learning it over the coefficients' whole memory left the standardised errors of
# the recorded BTC/ETH pair at a std of 0.78 (0.83 with this; 1.00 on simulated data either way).
VARIANCE_MEMORY_BARS = 60


def kalman_signal(a: np.ndarray, b: np.ndarray, hedge_window: int) -> dict[str, np.ndarray]:
    """Per row of one segment: alpha, beta (the state known before the row), spread, zscore and
    forecast_std. NaN during the burn-in, on rows with a missing price, and when the burn-in
    fit is degenerate (b constant)."""
    n = len(a)
    out = {name: np.full(n, np.nan) for name in ("alpha", "beta", "spread", "zscore", "forecast_std")}
    finite = np.isfinite(a) & np.isfinite(b) & (a > 0) & (b > 0)
    rows = np.flatnonzero(finite)
    if len(rows) <= hedge_window or hedge_window < 3:
        return out
    a0, b0 = a[rows[0]], b[rows[0]]
    burn = rows[:hedge_window]
    scale = float(np.std(b[burn] / b0))
    if not scale > 0:
        return out
    y, u = a / a0, (b / b0 - 1.0) / scale
    design = np.column_stack([np.ones(len(burn)), u[burn]])
    gram = design.T @ design
    if abs(np.linalg.det(gram)) <= 1e-300:
        return out
    scaled_cov = np.linalg.inv(gram)  # C / V
    state = scaled_cov @ design.T @ y[burn]
    residuals = y[burn] - design @ state
    variance = max(float(residuals @ residuals) / (len(burn) - 2), 1e-30)  # S: V's estimate
    dof = float(len(burn) - 2)
    discount = 1.0 - 1.0 / hedge_window
    variance_discount = 1.0 - 1.0 / min(hedge_window, VARIANCE_MEMORY_BARS)
    gamma, slope = float(state[0]), float(state[1])
    c11, c12, c22 = float(scaled_cov[0, 0]), float(scaled_cov[0, 1]), float(scaled_cov[1, 1])
    alpha, beta, spread, zscore, fstd = (out[k] for k in ("alpha", "beta", "spread", "zscore", "forecast_std"))
    for t in rows[hedge_window:].tolist():
        r11, r12, r22 = c11 / discount, c12 / discount, c22 / discount
        ut = u[t]
        rh1, rh2 = r11 + r12 * ut, r12 + r22 * ut  # R h with h = (1, u)
        q = 1.0 + rh1 + rh2 * ut
        error = y[t] - (gamma + slope * ut)
        forecast_var = variance * q
        alpha[t], beta[t] = a0 * (gamma - slope / scale), slope * a0 / (b0 * scale)
        spread[t] = error * a0
        fstd[t] = math.sqrt(forecast_var) * a0
        zscore[t] = error / math.sqrt(forecast_var)
        k1, k2 = rh1 / q, rh2 / q
        gamma, slope = gamma + k1 * error, slope + k2 * error
        dof = variance_discount * dof + 1.0
        variance = max(variance + variance / dof * (error * error / forecast_var - 1.0), 1e-30)
        c11, c12, c22 = r11 - k1 * k1 * q, r12 - k1 * k2 * q, r22 - k2 * k2 * q
    return out
