"""Seed 004, Fig. 6 / appendix A.8: calibration errors of the model variants A-I.

Each variant (:mod:`femplastic.weakplane.variants`) is run with its optimum parameters of A.8
(:meth:`femplastic.ModelParams.for_variant`) at ``l = 6.6`` and compared with a reference:

* ``L_macro`` -- mean overlap error ``L[P] = 1 - integral min(P, P_ref)`` of the stationary
  (``gamma > 0.5``) distributions of the external stress, the avalanche stress drops and the
  stress increments between avalanches;
* ``L_meso+`` / ``L_meso-`` -- mean relative error ``L[F] = |1 - F / F_ref|`` of the mean and
  standard deviation of ``tau_i, tau_c, dtau_c, drop`` from the local shear test at
  ``R = 30`` (``8 x 8`` patches), forward (``alpha = 0``) / backward (``90 deg``);
* ``L_stat = 1/2 (L_macro + 1/2 (L_meso+ + L_meso-))``.

The error functions are those of :mod:`femplastic.weakplane.calibration`: ``L[P]`` with the
default overlap estimator of :mod:`femplastic.weakplane.overlap` (equal-mass bins of the
pooled samples, ``ceil(m^(1/3))`` of them, repeated values never split; ``--overlap linear``
selects the original 40 equal-width bins for comparison, and the JSON output holds both).
**Reference.** No atomistic data ships with the
seeds, so the default reference is the *synthetic* model C at the same size with independent
seeds: the errors then measure how far each variant is from model C. Model C itself, run with
the variants' seeds, is the **noise floor** (C against an independent C): it is printed next
to every variant (``floor`` columns), and a variant differs from C only where its error stands
clearly above it. Pass ``--reference FILE.npz`` (keys ``macro/stress``, ``macro/drops``,
``macro/increments``, optionally ``meso_forward/tau_c`` ... and ``R``; the format of
:class:`femplastic.weakplane.calibration.ReferenceData`) to compare with your own data.

The local shear test runs for every variant: for A on each patch's own moduli (the patch
operator is rebuilt from them); for D, G and I the patch test uses the patch's own Eshelby
response (the shuffled / mean-field kernel is a property of the full system's interactions).
The self-response bounding slips inside the patches is the patch operator's
(``--self-response system`` for the periodic system's, see
:func:`femplastic.weakplane.probes.local_yield`).

Lattice-valued samples: the increments (multiples of one elastic step; for A on a different
lattice in every realisation), and for F, G, H also the drops and the stress, are discrete
while C's drops and stress are continuous. Exactly they never overlap (``L[P] = 1``); the
default estimator compares them at the resolution of its bins (see
:mod:`femplastic.weakplane.overlap`), so their ``L[P]`` depends on the sample size.

Run: ``python studies/fig6_variants.py --out DIR [--seed S] [--smoke] [--reference F]
[--realizations N] [--variants ACD] [--overlap quantile|linear] [--self-response
patch|system]``.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from femplastic import ModelParams, aqs, quench
from femplastic.weakplane.calibration import overlap_error, relative_error
from femplastic.weakplane.overlap import OVERLAP_METHODS
from femplastic.weakplane.params import VARIANT_NAMES
from femplastic.weakplane.probes import local_yield
from femplastic.weakplane.probes.local_yield import SELF_RESPONSES

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

MACRO = ("stress", "drops", "increments")
MESO = ("tau_i", "tau_c", "dtau_c", "drop")


@dataclass(frozen=True)
class Settings:
    """What to simulate.

    Attributes
    ----------
    L : int
        System size (15 is Table 1's size for ``l = 6.6``).
    realizations, ref_realizations : int
        Realisations per variant / of the synthetic reference (the paper: 48; at 4 the C-vs-C
        noise floor of ``L_meso+`` is ~0.36, at 24 ~0.03).
    gamma_end, dgamma : float
        AQS strain range and increment.
    gamma_min : float
        Start of the stationary regime.
    R : float
        Patch radius of the local shear test (``n = round(R sqrt(pi) / l)``).
    stride : int
        Spacing of the patches.
    meso : bool
        Whether to run the local shear test.
    overlap : str
        Overlap estimator (:data:`femplastic.weakplane.overlap.OVERLAP_METHODS`).
    bins : int or None
        Bins of the overlap errors (None: the estimator's default).
    self_response : str
        Self-response bounding slips in the local shear tests (``"patch"`` or ``"system"``).
    variants : str
        Variants to run (model C always runs too: it is the noise floor).
    """

    L: int = 15
    realizations: int = 24
    ref_realizations: int = 24
    gamma_end: float = 2.0
    dgamma: float = 1e-4
    gamma_min: float = 0.5
    R: float = 30.0
    stride: int = 1
    meso: bool = True
    overlap: str = "quantile"
    bins: int | None = None
    self_response: str = "patch"
    variants: str = "".join(VARIANT_NAMES)

    @classmethod
    def smoke(cls) -> Settings:
        """A few seconds: tiny system, short runs, few patches."""
        return cls(L=6, realizations=1, ref_realizations=2, gamma_end=0.4, dgamma=1e-3,
                   gamma_min=0.2, R=12.0, stride=3)


def _patch_side(R: float, l: float, L: int) -> int:
    return int(min(max(round(R * np.sqrt(np.pi) / l), 1), L))


def simulate(params: ModelParams, seeds: list[np.random.SeedSequence], s: Settings) -> dict:
    """Stationary macro samples and local-shear-test samples of ``len(seeds)`` realisations.

    Returns
    -------
    dict
        ``macro``: ``stress``, ``drops``, ``increments`` (1D arrays); ``meso_forward`` and
        ``meso_backward``: ``tau_i``, ``tau_c``, ``dtau_c``, ``drop`` (None without the local
        test); ``n_events``; ``seconds``.
    """
    t0 = time.perf_counter()
    macro: dict[str, list] = {k: [] for k in MACRO}
    fw: dict[str, list] = {k: [] for k in MESO}
    bw: dict[str, list] = {k: [] for k in MESO}
    meso, note, n_events = s.meso, "" if s.meso else "local shear test off", 0
    n = _patch_side(s.R, params.l, params.L)
    for seq in seeds:
        rng = np.random.default_rng(seq)
        run = aqs(quench(params, rng), params, rng, gamma_end=s.gamma_end, dgamma=s.dgamma)
        n_events += run.state.n_events
        keep = run.gamma > s.gamma_min
        av = np.flatnonzero(keep & (run.avalanche_size > 0))
        macro["stress"].append(run.stress[keep])
        macro["drops"].append(run.stress_before[av] - run.stress[av])
        macro["increments"].append(run.stress_before[av[1:]] - run.stress[av[:-1]])
        if meso:
            ly = local_yield(run.state, params, rng, n, [0.0, np.pi / 2], stride=s.stride,
                             self_response=s.self_response)
            for k in MESO:
                fw[k].append(getattr(ly, k)[:, 0])
                bw[k].append(getattr(ly, k)[:, 1])
    out = {"macro": {k: np.concatenate(v) for k, v in macro.items()},
           "meso_forward": {k: np.concatenate(v) for k, v in fw.items()} if meso else None,
           "meso_backward": {k: np.concatenate(v) for k, v in bw.items()} if meso else None,
           "meso_note": note, "n_events": int(n_events), "patch_n": n,
           "seconds": time.perf_counter() - t0}
    return out


def load_reference(path: str | Path) -> dict:
    """Reference samples from an ``.npz`` in the :class:`ReferenceData` key format.

    ``macro/stress``, ``macro/drops`` and ``macro/increments`` are required; the local
    samples ``meso_forward/<key>``, ``meso_backward/<key>`` and ``R`` are optional.
    """
    path = Path(path)
    if not path.exists():
        raise ValueError(f"reference file {str(path)!r} does not exist")
    with np.load(path) as z:
        data = {k: np.asarray(z[k]) for k in z.files}
    missing = [f"macro/{k}" for k in MACRO if f"macro/{k}" not in data]
    if missing:
        raise ValueError(f"reference file lacks {missing}")
    ref: dict = {"macro": {k: data[f"macro/{k}"].ravel().astype(float) for k in MACRO}}
    for g in ("meso_forward", "meso_backward"):
        have = all(f"{g}/{k}" in data for k in MESO)
        ref[g] = {k: data[f"{g}/{k}"].ravel().astype(float) for k in MESO} if have else None
    ref["R"] = float(data["R"]) if "R" in data else None
    ref["meso_note"] = "" if ref["meso_forward"] is not None else "no local samples in file"
    return ref


def errors(model: dict, ref: dict, bins: int | None = None, overlap: str = "quantile"
           ) -> dict[str, float]:
    """``L_macro``, ``L_meso+``, ``L_meso-``, ``L_stat`` and their components (NaN if absent)."""
    out: dict[str, float] = {}
    lp = []
    for k in MACRO:
        a, b = model["macro"][k], ref["macro"][k]
        v = overlap_error(a, b, bins, method=overlap) if a.size and b.size else float("nan")
        out[f"L[P] {k}"] = v
        lp.append(v)
    out["L_macro"] = float(np.mean(lp))
    for sign, g in (("+", "meso_forward"), ("-", "meso_backward")):
        if model[g] is None or ref[g] is None:
            out[f"L_meso{sign}"] = float("nan")
            continue
        lf = []
        for k in MESO:
            for stat, fn in (("mean", np.mean), ("std", np.std)):
                v = relative_error(float(fn(model[g][k])), float(fn(ref[g][k])))
                out[f"L[F] {g} {stat} {k}"] = v
                lf.append(v)
        out[f"L_meso{sign}"] = float(np.mean(lf))
    out["L_stat"] = 0.5 * (out["L_macro"] + 0.5 * (out["L_meso+"] + out["L_meso-"]))
    return out


def run(settings: Settings, rng: np.random.Generator, reference: str | Path | None = None
        ) -> dict:
    """Errors of every variant against the reference (synthetic model C by default).

    All variants use the same realisation seeds (common random numbers); the synthetic
    reference uses independent ones. Seeds derive from ``rng`` only. Model C runs even when
    not asked for: its errors are the noise floor (``results["floor"]``).
    """
    root = np.random.SeedSequence(int(rng.integers(2**63)))
    ref_root, model_root = root.spawn(2)
    s = settings
    if reference is None:
        ref = simulate(ModelParams.for_variant("C", L=s.L), ref_root.spawn(s.ref_realizations),
                       s)
        ref_desc = f"synthetic model C, L = {s.L}, {s.ref_realizations} realisations"
    else:
        ref = load_reference(reference)
        if ref["R"] is not None:
            s = replace(s, R=ref["R"])
        s = replace(s, meso=s.meso and ref["meso_forward"] is not None)
        ref_desc = f"file {reference}"
    seeds = model_root.spawn(s.realizations)
    res: dict = {"settings": asdict(s), "reference": ref_desc,
                 "errors_from": f"femplastic.weakplane.calibration, overlap {s.overlap!r}",
                 "errors": {}, "params": {}, "notes": {}, "n_events": {}, "seconds": {}}
    todo = s.variants if "C" in s.variants else "C" + s.variants
    for v in todo:
        p = ModelParams.for_variant(v, L=s.L)
        sm = simulate(p, seeds, s)
        res["errors"][v] = errors(sm, ref, s.bins, s.overlap)
        # the other estimator on the same samples, for comparison (JSON only)
        other = "linear" if s.overlap == "quantile" else "quantile"
        res.setdefault(f"errors_{other}", {})[v] = errors(sm, ref, None, other)
        res["params"][v] = p.to_dict()
        res["n_events"][v] = sm["n_events"]
        res["seconds"][v] = sm["seconds"]
        if sm["meso_note"]:
            res["notes"][v] = f"no mesoscale errors: {sm['meso_note']}"
    res["floor"] = res["errors"]["C"]
    if "C" not in s.variants:
        for key in [k for k in ("errors_linear", "errors_quantile") if k in res] + ["errors"]:
            res[key] = {v: e for v, e in res[key].items() if v != "C"}
    return res


def plot(results: dict):
    """Fig. 6: grouped bars of ``L_macro``, ``L_meso+``, ``L_meso-`` per variant."""
    import matplotlib.pyplot as plt

    names = list(results["errors"])
    keys = (("L_macro", r"$\hat{\mathcal{L}}_{\rm macro}$"),
            ("L_meso+", r"$\hat{\mathcal{L}}^+_{\rm meso}$"),
            ("L_meso-", r"$\hat{\mathcal{L}}^-_{\rm meso}$"))
    fig, ax = plt.subplots(figsize=(7.5, 3.6), constrained_layout=True)
    x = np.arange(len(names))
    for i, (k, lab) in enumerate(keys):
        vals = [results["errors"][v][k] for v in names]
        ax.bar(x + (i - 1) * 0.27, np.nan_to_num(vals, nan=0.0), 0.27, label=lab)
    floor = results.get("floor") or results["errors"].get("C")
    if floor is not None:
        synthetic = "synthetic" in results["reference"]
        for i, (k, _) in enumerate(keys):
            if np.isfinite(floor[k]):
                ax.axhline(floor[k], color=f"C{i}", ls=":", lw=1,
                           label=("noise floor (C vs independent C)" if synthetic else "model C")
                           if i == 0 else None)
    ax.set_xticks(x, names)
    ax.set_xlabel("model variant (Castellanos et al. 2021, A.8)")
    ax.set_ylabel("relative error")
    ax.set_title(f"reference: {results['reference']}", fontsize=8)
    ax.legend(frameon=False, fontsize=8, ncols=2)
    return fig


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    if isinstance(x, float | np.floating):
        return None if not np.isfinite(x) else float(x)
    if isinstance(x, np.integer):
        return int(x)
    return x


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path,
                    default=Path(__file__).resolve().parent / "out" / "fig6_variants")
    ap.add_argument("--smoke", action="store_true", help="seconds-long check run")
    ap.add_argument("--reference", type=Path, default=None,
                    help="reference samples (.npz); default: synthetic model C")
    ap.add_argument("--realizations", type=int, default=None)
    ap.add_argument("--variants", default=None, help="e.g. ACD (default: all)")
    ap.add_argument("--overlap", choices=OVERLAP_METHODS, default=None,
                    help="overlap estimator of L[P] (default quantile: exact atoms + "
                         "equal-mass bins; linear: the original 40 equal-width bins)")
    ap.add_argument("--self-response", choices=SELF_RESPONSES, default=None,
                    help="self-response bounding slips in the patches (default patch)")
    args = ap.parse_args(argv)
    s = Settings.smoke() if args.smoke else Settings()
    if args.realizations is not None:
        if args.realizations < 1:
            ap.error("--realizations must be >= 1")
        s = replace(s, realizations=args.realizations, ref_realizations=args.realizations)
    if args.variants is not None:
        bad = sorted(set(args.variants.upper()) - set(VARIANT_NAMES))
        if bad:
            ap.error(f"--variants: unknown {bad}; choose among {''.join(VARIANT_NAMES)}")
        s = replace(s, variants=args.variants.upper())
    if args.overlap is not None:
        s = replace(s, overlap=args.overlap)
    if args.self_response is not None:
        s = replace(s, self_response=args.self_response)
    results = run(s, np.random.default_rng(args.seed), args.reference)
    _common.fresh_dir(args.out)  # (a previous run's results are moved aside)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plot(results)
    fig.savefig(args.out / "fig6_variants.png", dpi=120)
    plt.close(fig)
    (args.out / "fig6_variants.json").write_text(json.dumps(_jsonable(results), indent=1))
    main_cols = ("L_macro", "L_meso+", "L_meso-", "L_stat")
    parts = ("L[P] stress", "L[P] drops", "L[P] increments")
    floor = results["floor"]
    with open(args.out / "fig6_variants.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["variant", *(x for c in main_cols for x in (c, f"{c} floor")), *parts])
        for v, e in results["errors"].items():
            w.writerow([v, *(f"{x:.4g}" for c in main_cols for x in (e[c], floor[c])),
                        *(f"{e[c]:.4g}" for c in parts)])
    print(f"reference: {results['reference']}  (errors from {results['errors_from']})")
    print("noise floor = model C against the reference (independent seeds)")
    print("variant  " + "  ".join(f"{c:>8s} {'floor':>6s}" for c in main_cols)
          + "  " + "  ".join(f"{c[5:]:>10s}" for c in parts))
    for v, e in results["errors"].items():
        print(f"{v:7s}  " + "  ".join(f"{e[c]:8.3f} {floor[c]:6.3f}" for c in main_cols)
              + "  " + "  ".join(f"{e[c]:10.3f}" for c in parts))
    for v, note in results["notes"].items():
        print(f"  {v}: {note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
