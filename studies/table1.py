"""Seed 004 Table 1: element size l, lattice size L, slip systems N and patch size n (R = 30).

Recomputes the table from its definitions (box side 98.8045, N = 0.8 l^2 to the nearest
multiple of 4, n = R sqrt(pi) / l) next to the published values, and runs the model once per
row to report the stationary stress of each discretisation.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

import femplastic as fp  # noqa: E402
from femplastic.weakplane.params import TABLE1  # noqa: E402
from femplastic.weakplane.slip import n_systems  # noqa: E402

BOX = 98.8045


def run(seed: int, gamma_end: float, dgamma: float, realizations: int, rows=None) -> dict:
    out = []
    for l in rows or sorted(TABLE1):
        L, N, n = TABLE1[l]
        p = fp.ModelParams.preset(l)
        means = []
        for rng in _common.rngs(seed, realizations):
            r = fp.aqs(fp.quench(p, rng), p, rng, gamma_end=gamma_end, dgamma=dgamma)
            means.append(r.stress[r.gamma > min(0.5, gamma_end / 2)].mean())
        out.append({"l": l, "L": L, "L_from_box": BOX / l, "N": N, "N_rule": n_systems(l),
                    "n": n, "n_from_R30": 30 * np.sqrt(np.pi) / l, "R": l * n / np.sqrt(np.pi),
                    "stationary_stress": float(np.mean(means))})
    return {"rows": out}


def plot(res: dict):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 3.2), constrained_layout=True)
    rows = res["rows"]
    ax.plot([r["l"] for r in rows], [r["stationary_stress"] for r in rows], "o-")
    ax.set(xlabel="element size l", ylabel="stationary stress (calibrated at l = 6.6)")
    return fig


def main(argv: list[str] | None = None) -> dict:
    args = _common.parse(__doc__, argv)
    if args.smoke:
        res = run(args.seed, 0.05, 1e-3, 1, rows=[8.8, 13.2])
    else:
        res = run(args.seed, 2.0, 1e-4, 4)
    out = _common.out_dir(args, "table1")
    _common.save(out, "table1", res, plot(res))
    lines = ["| l | L | 98.8/l | N | 0.8 l^2 -> x4 | n | R sqrt(pi)/l | R | stationary stress |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in res["rows"]:
        lines.append(f"| {r['l']} | {r['L']} | {r['L_from_box']:.1f} | {r['N']} | {r['N_rule']} "
                     f"| {r['n']} | {r['n_from_R30']:.1f} | {r['R']:.1f} | "
                     f"{r['stationary_stress']:.3f} |")
    (out / "table1.md").write_text("\n".join(lines) + "\n")
    return res


if __name__ == "__main__":
    main()
