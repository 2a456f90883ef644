"""Benchmark of the HL mean-field solver: a 20-point flow curve to 1e-3 accuracy.

Target: <= 2 s on the development machine. Prints the timings and the accuracy of the
default grid against a refined computation (resolution 8) and against the closed-form
stationary solution of the original model. No assertions.

Usage: ``python benchmarks/bench_meanfield.py``
"""

from __future__ import annotations

import time

import numpy as np

from femplastic import meanfield as mf


def _best_of(fn, repeat: int = 3) -> tuple[float, object]:
    best, out = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    alpha = 0.3
    rates = np.logspace(-7, 0, 20)
    t_fv, fc = _best_of(lambda: mf.hl_flow_curve(alpha, rates))
    t_ref, ref = _best_of(lambda: mf.hl_flow_curve(alpha, rates, resolution=8.0), repeat=1)
    t_ex, exact = _best_of(lambda: mf.hl_flow_curve(alpha, rates, method="exact"))
    rel_ref = np.abs(fc / ref - 1.0)
    rel_ex = np.abs(fc / exact - 1.0)
    rel_ref_ex = np.abs(ref / exact - 1.0)
    print(f"HL flow curve, alpha = {alpha}, 20 rates in [1e-7, 1] (sigma_c = G0 = tau = 1)")
    print(f"  finite volumes, default grid : {t_fv:.3f} s  (target <= 2 s)")
    print(f"  finite volumes, resolution 8 : {t_ref:.3f} s")
    print(f"  closed-form exact solution   : {t_ex:.3f} s")
    print(f"  max |default / refined - 1|  : {rel_ref.max():.2e}  (target <= 1e-3)")
    print(f"  max |default / exact - 1|    : {rel_ex.max():.2e}")
    print(f"  max |refined / exact - 1|    : {rel_ref_ex.max():.2e}")
    print("  rate        <sigma> default   <sigma> exact     rel. error")
    for g, s, e in zip(rates, fc, exact, strict=True):
        print(f"  {g:9.3e}   {s:.8f}      {e:.8f}      {abs(s / e - 1):.1e}")
    fit = mf.hb_fit(rates[:8], fc[:8], n=0.5)
    print(
        f"  HB fit (n = 1/2, rates <= {rates[7]:.1e}): sigma_Y = {fit.sigma_Y:.5f} "
        f"(theory {mf.hl_yield_stress(alpha):.5f}), A = {fit.A:.4f} "
        f"(theory {mf.hl_hb_prefactor(alpha):.4f}; O(gdot) terms not fitted)"
    )

    # extensions and transients, for information
    ext = mf.HLExtensions(relax_fraction=0.2, noise_scale=0.2)
    t_pr, _ = _best_of(lambda: mf.hl_flow_curve(alpha, rates[:10], extensions=ext), repeat=1)
    print(f"partial relaxation (f = 0.2), 10 rates: {t_pr:.3f} s")
    t_tr, tr = _best_of(
        lambda: mf.hl_fixed_rate(alpha, 0.05, 200.0, dt=0.01, dt_growth=1.02, dt_max=1.0),
        repeat=1,
    )
    print(
        f"start-up shear to t = 200 tau ({tr.t.size - 1} implicit steps): {t_tr:.3f} s, "
        f"max |mass - 1| = {np.abs(tr.mass - 1).max():.1e}"
    )
    sy = mf.hl_yield_stress(alpha)
    t_cr, cr = _best_of(
        lambda: mf.hl_creep(alpha, 1.6 * sy, 40.0, dt=0.01, dt_growth=1.02, dt_max=1.0),
        repeat=1,
    )
    print(
        f"creep at 1.6 sigma_Y to t = 40 tau ({cr.t.size - 1} steps): {t_cr:.3f} s, "
        f"final gdot = {cr.gdot[-1]:.4e}"
    )


if __name__ == "__main__":
    main()
