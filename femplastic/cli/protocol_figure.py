"""The figure of a ``femplastic run`` protocol run (``<protocol>.png``).

:func:`protocol_figure` draws, from the first realisation's ``plot`` data
(:class:`femplastic.cli.protocols.ProtocolResult`), the loops and per-cycle dissipation of a
cyclic run, the strain response and the avalanche-size distribution of a stress ramp, the
preload and the forward/reverse curves of a Bauschinger test, the local-yield-stress histograms
per loading angle, or the stress (creep: strain) and strain rate against time.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .protocols import ProtocolResult

__all__ = ["protocol_figure"]


def protocol_figure(protocol: str, results: list[ProtocolResult], path: Path) -> None:
    """Write the ``<protocol>.png`` of a protocol run: two panels suited to the protocol.

    Parameters
    ----------
    protocol : str
        ``cyclic``, ``stress``, ``bauschinger``, ``local-yield``, ``rate`` or ``creep``.
    results : list of ProtocolResult
        The realisations; the first one's ``plot`` data are drawn (curves thinned to about
        20,000 points, at most about 200 cyclic loops).
    path : Path
        The PNG file to write.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), constrained_layout=True)
    a, b = axes

    def thin(*xs):  # at most ~20,000 points per line: plotting stays fast for long runs
        step = max(1, xs[0].size // 20_000)
        return [x[::step] for x in xs]
    d = results[0].plot
    if protocol == "cyclic":
        r = d["run"]
        drawn = np.unique(r.cycle)  # the cycles of the decimated curve, at most ~200 lines
        drawn = drawn[np.unique(np.linspace(0, drawn.size - 1, min(drawn.size, 200)).astype(
            np.int64))] if drawn.size else drawn
        for c in drawn:
            m = r.cycle == c
            a.plot(*thin(r.gamma[m], r.stress[m]), lw=0.6,
                   color=plt.cm.viridis(c / max(1, r.n_cycles)))
        a.set(xlabel=r"$\gamma$", ylabel=r"$\Sigma^{\rm ext}$", title="loops (colour: cycle)")
        cyc = np.asarray(r.listed["cycle"]) + 1
        b.plot(cyc, r.listed["dissipation"], "o-", ms=3, label="dissipation")
        b.plot(cyc, r.listed["loop_work"], "x", ms=4, label="loop area")
        b.set(xlabel="cycle", ylabel="per cycle (LJ energy / area)")
        b.legend(frameon=False, fontsize=8)
    elif protocol == "stress":
        r = d["run"]
        a.plot(*thin(r.gamma, r.stress), lw=0.8)
        a.set(xlabel=r"$\gamma$ (output)", ylabel=r"$\Sigma^{\rm ext}$ (imposed)")
        vals, cnt = r.size_counts  # distinct sizes and their counts (a streamed log's too)
        if vals.size:
            b.loglog(vals, np.cumsum(cnt[::-1])[::-1] / cnt.sum(), ".")
        b.set(xlabel="avalanche size", ylabel="P(S >= s)")
    elif protocol == "bauschinger":
        bb = d["b"]
        a.plot(*thin(d["pre"].gamma, d["pre"].stress), lw=0.7)
        a.set(xlabel=r"$\gamma$", ylabel=r"$\Sigma_{xy}$", title="preload")
        b.plot(bb.forward.gamma, bb.forward.stress, label="forward")
        b.plot(bb.reverse.gamma, bb.reverse.stress, label="reverse")
        b.set(xlabel="reload strain", ylabel="resolved stress")
        b.legend(frameon=False, fontsize=8)
    elif protocol == "local-yield":
        for ax, name in ((a, "quench"), (b, "sheared")):
            tc = d["rec"][name]["tau_c"]
            for j, al in enumerate(d["alphas"]):
                x = tc[:, j][np.isfinite(tc[:, j])]  # (inf: never yields)
                if x.size == 0:
                    continue
                pad = 1e-3 * max(1.0, float(np.abs(x).max()))  # a one-valued sample too
                ax.hist(x, bins=20, range=(x.min() - pad, x.max() + pad), histtype="step",
                        density=True,
                        label=rf"$\alpha$ = {np.degrees(al):.0f} deg")
            ax.set(xlabel=r"local $\tau_c$", ylabel="density", title=name)
            ax.legend(frameon=False, fontsize=8)
    else:
        r = d["run"]
        a.plot(*thin(r.time, r.stress if not d["creep"] else r.gamma), lw=0.8)
        a.set(xlabel="time", ylabel="stress" if not d["creep"] else r"$\gamma$")
        b.semilogy(*thin(r.time, np.maximum(r.strain_rate, 1e-12)), lw=0.8)
        b.set(xlabel="time", ylabel=r"$\dot\gamma$")
    fig.savefig(path, dpi=120)
    plt.close(fig)
