"""Cyclic yielding transition of model C: absorbing states below, diffusive above.

For each system size L and strain amplitude gamma_max (a grid bracketing the transition),
quenched samples are sheared cyclically (0 -> +gamma_max -> -gamma_max -> 0) with
:func:`femplastic.cyclic` until the configuration repeats (an absorbing state: with model C's
random renewals only a cycle without any slip can repeat) or a cycle budget runs out.
Measured per point: the fraction of samples absorbed, the number of cycles to reach the
absorbing state (among absorbed samples), the events and the dissipation per cycle over the
last cycles (zero once absorbed). The transition amplitude is estimated as the smallest
amplitude at which fewer than half of the samples reach an absorbing state within the budget.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

import femplastic as fp  # noqa: E402


def run(sizes, amplitudes, seed: int, realizations: int, cycles: int, dgamma: float,
        tail: int, time_budget: float | None = None) -> dict:
    t0 = time.perf_counter()
    pts = []
    out_of_time = False
    for L in sizes:
        if out_of_time:
            break
        p = fp.ModelParams(L=int(L))
        quenched = [(fp.quench(p, rng), rng) for rng in _common.rngs(seed + int(L), realizations)]
        for gm in amplitudes:
            absorbed, transient, diss, events, loop = [], [], [], [], []
            for q, rng in quenched:
                r = fp.cyclic(q, p, rng, gamma_max=float(gm), cycles=cycles, dgamma=dgamma,
                              until_absorbed=True)
                absorbed.append(r.absorbed_at is not None)
                if r.absorbed_at is not None:
                    transient.append(r.transient)
                    diss.append(0.0)  # the absorbing cycle repeats without slips
                    events.append(0.0)
                    loop.append(0.0)
                else:
                    diss.append(float(r.dissipation[-tail:].mean()))
                    events.append(float(r.events[-tail:].mean()))
                    loop.append(float(r.loop_work[-tail:].mean()))
            pts.append({"L": int(L), "gamma_max": float(gm),
                        "fraction_absorbed": float(np.mean(absorbed)),
                        "cycles_to_absorb": float(np.mean(transient)) if transient else None,
                        "cycles_to_absorb_max": int(max(transient)) if transient else None,
                        "dissipation_per_cycle": float(np.mean(diss)),
                        "loop_work_per_cycle": float(np.mean(loop)),
                        "events_per_cycle": float(np.mean(events)),
                        "n": len(absorbed)})
            if time_budget is not None and time.perf_counter() - t0 > time_budget:
                out_of_time = True  # keep what is done; the README reports the coverage
                break
    crit = {}
    for L in sizes:
        rows = [q for q in pts if q["L"] == L]
        above = [q["gamma_max"] for q in rows if q["fraction_absorbed"] < 0.5]
        crit[int(L)] = min(above) if above else None
    return {"points": pts, "gamma_c_estimate": crit, "cycles_budget": cycles,
            "dgamma": dgamma, "realizations": realizations,
            "wall_time_s": time.perf_counter() - t0}


def plot(res: dict):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6), constrained_layout=True)
    sizes = sorted({q["L"] for q in res["points"]})
    for L in sizes:
        rows = [q for q in res["points"] if q["L"] == L]
        g = [q["gamma_max"] for q in rows]
        axes[0].plot(g, [q["fraction_absorbed"] for q in rows], "o-", ms=3, label=f"L = {L}")
        axes[1].plot(g, [q["cycles_to_absorb"] if q["cycles_to_absorb"] is not None
                             else np.nan for q in rows], "o-", ms=3, label=f"L = {L}")
        axes[2].plot(g, [q["dissipation_per_cycle"] for q in rows], "o-", ms=3,
                     label=f"L = {L}")
    axes[0].set(xlabel=r"$\gamma_{\max}$",
                ylabel=f"fraction absorbed within {res['cycles_budget']} cycles")
    axes[1].set(xlabel=r"$\gamma_{\max}$", ylabel="cycles to the absorbing state")
    axes[2].set(xlabel=r"$\gamma_{\max}$", ylabel="dissipation per cycle (steady)")
    for a in axes:
        a.legend(frameon=False, fontsize=8)
    return fig


def main(argv: list[str] | None = None) -> dict:
    args = _common.parse(__doc__, argv)
    if args.smoke:
        res = run((6,), (0.01, 0.08), args.seed, 1, 4, 1e-3, 2)
    else:
        amps = (0.02, 0.03, 0.04, 0.045, 0.05, 0.055, 0.06, 0.08, 0.1, 0.12)
        res = run((8, 16, 32), amps, args.seed, 3, 40, 1e-4, 10, time_budget=1100.0)
    out = _common.out_dir(args, "cyclic_yielding")
    _common.save(out, "cyclic_yielding", res, plot(res))
    return res


if __name__ == "__main__":
    main()
