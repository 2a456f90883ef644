"""Shared measurements of the mesh studies (mesh_unstructured.py, mesh_size_spread.py).

* :func:`run_ensemble` -- T = 0.25 quench (or T = 0) and AQS of model C on the regular grid or
  on one Gmsh unstructured periodic mesh per realisation (seed = root seed + realisation).
* :func:`disc_tau` -- ``tau_i(alpha) = M(alpha) : <sigma>_disc``, the resolved stress of
  area-weighted disc averages of radius R around every element centroid (periodic minimum
  image): the pre-stress part of the local yield test (Castellanos et al. 2021 fig. 4/8),
  measured the same way on a grid and on an unstructured mesh.
* :func:`yield_ensemble` -- the patch yield test itself (tau_c, dtau_c vs alpha, fig. 4/8) on
  the grid (n x n blocks) or on a mesh (the elements whose centroids lie in an n x n square,
  :func:`femplastic.weakplane.probes.local_yield.mesh_patch`), quench and stationary state,
  and the depth of the dips at alpha = +-45 deg per realisation.
* :func:`localisation` -- area-weighted participation ratio of the plastic shear field.
* :func:`edge_alignment` -- ``<cos 4 phi>`` of the element edges (1: grid-aligned, 0: isotropic).
"""

from __future__ import annotations

import numpy as np

import femplastic as fp
from femplastic.fe.elasticity import ddot, schmid, von_mises
from femplastic.weakplane import observables as obs


def gmsh_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("gmsh") is not None


def unstructured(n: int, cv: float, seed: int, algorithm: str = "frontal"):
    from femplastic.fe import meshgen

    return meshgen.unstructured(n, size_cv=cv, seed=seed, algorithm=algorithm).mesh


def disc_tau(mesh, stress: np.ndarray, R: float, alphas: np.ndarray) -> np.ndarray:
    """(n_elem, n_alpha) resolved stress of the R-disc averages centred at the centroids."""
    c, A = mesh.centroids, mesh.areas
    side = mesh.box[1] - mesh.box[0]
    d = c[:, None, :] - c[None, :, :]
    d -= side * np.round(d / side)
    w = ((d ** 2).sum(-1) <= R * R) * A[None, :]
    avg = (w @ stress) / w.sum(1, keepdims=True)
    return ddot(schmid(alphas)[None, :, :], avg[:, None, :])


def edge_alignment(mesh) -> float:
    """``<cos 4 phi>`` over element edges: 1 for x/y-aligned edges (a grid), 0 isotropic."""
    P = mesh.nodes[mesh.cells]
    E = np.roll(P, -1, axis=1) - P
    return float(np.mean(np.cos(4 * np.arctan2(E[..., 1], E[..., 0]))))


def localisation(mesh, eps_pl: np.ndarray) -> dict:
    """Participation ratio of the plastic shear (1: uniform; small: localised) and more."""
    A = mesh.areas / mesh.areas.sum()
    x = von_mises(eps_pl)
    pr = float((A @ x) ** 2 / (A @ x ** 2)) if np.any(x > 0) else float("nan")
    q = np.quantile(mesh.areas, [0.25, 0.75])
    small, large = mesh.areas <= q[0], mesh.areas >= q[1]
    return {"participation": pr, "mean_plastic_shear": float(A @ x),
            "small_over_large": float(x[small].mean() / x[large].mean())
            if x[large].mean() > 0 else float("nan")}


def quenched(p: fp.ModelParams, mesh_of, seed: int, realizations: int):
    """Yield ``(rng, params, state)`` per realisation r: its generator (child r of ``seed``),
    ``p`` with ``L = round(sqrt(n_elem))`` of its mesh ``mesh_of(r)`` (``p`` itself for the
    grid, None), and the quench on that mesh. The set-up :func:`run_ensemble` and
    :func:`yield_ensemble` share, so both draw the same realisations from one seed."""
    children = np.random.SeedSequence(seed).spawn(realizations)
    for r, rng in enumerate(np.random.default_rng(c) for c in children):
        mesh = mesh_of(r)
        pp = p if mesh is None else p.replace(L=max(2, round(np.sqrt(mesh.n_elem))))
        yield rng, pp, fp.quench(pp, rng, mesh=mesh)


def run_ensemble(p: fp.ModelParams, mesh_of, seed: int, realizations: int, gamma_end: float,
                 dgamma: float, R: float, alphas: np.ndarray) -> dict:
    """Quench + AQS; macro curve, stationary statistics, disc tau_i at the end, localisation.

    ``mesh_of(r)`` gives realisation r's mesh (None: the regular grid of ``p``).
    """
    runs, taus_q, taus_s, taus_e, taus_eq, loc, n_elem, cvs, align = ([] for _ in range(9))
    for rng, pp, st in quenched(p, mesh_of, seed, realizations):
        m = st.model.mesh
        taus_q.append(disc_tau(m, st.stress, R, alphas))
        taus_eq.append(ddot(schmid(alphas)[None, :, :], st.stress[:, None, :]))
        run = fp.aqs(st, pp, rng, gamma_end=gamma_end, dgamma=dgamma)
        runs.append(run)
        taus_s.append(disc_tau(m, run.state.stress, R, alphas))
        taus_e.append(ddot(schmid(alphas)[None, :, :], run.state.stress[:, None, :]))
        loc.append(localisation(m, run.state.eps_pl))
        n_elem.append(m.n_elem)
        cvs.append(float(m.areas.std() / m.areas.mean()))
        align.append(edge_alignment(m))
    st = obs.stationary(runs)
    out = {"n_elem": n_elem, "area_cv": cvs, "edge_cos4": align, "gamma": runs[0].gamma,
           "mean_curve": np.mean([r.stress for r in runs], axis=0),
           "events_per_strain_per_elem": float(np.mean([r.state.n_events / gamma_end / n for
                                                        r, n in zip(runs, n_elem,
                                                                    strict=True)]))}
    for name in ("stress", "drops"):
        x = getattr(st, name)
        c, P = obs.density(x, bins=30)
        # error of the mean: the spread of the realisations' own means (independent samples)
        per = np.array([getattr(obs.stationary(r), name).mean() for r in runs])
        sem = float(per.std(ddof=1) / np.sqrt(per.size)) if per.size > 1 else float("nan")
        out[name] = {"centres": c, "density": P, "mean": float(x.mean()), "std": float(x.std()),
                     "n": int(x.size), "sem_realizations": sem}
    for key in ("participation", "small_over_large", "mean_plastic_shear"):
        v = np.array([d[key] for d in loc])
        out["loc_" + key] = {"mean": float(np.nanmean(v)),
                             "sem": float(np.nanstd(v) / np.sqrt(max(1, v.size)))}
    for regime, taus in (("quench", taus_q), ("stationary", taus_s), ("element", taus_e),
                          ("element_quench", taus_eq)):
        X = np.concatenate(taus)
        std = X.std(axis=0)
        h = fits_harmonics(alphas, std)
        # the discs of one realisation overlap (strongly correlated): the error of the
        # order-4 component is its spread over realisations, not the fit's residual
        per = np.array([[fits_harmonics(alphas, t.std(axis=0))[k] for k in ("cos4", "cos2")]
                        for t in taus])
        n = max(1, per.shape[0])
        out["tau_i_" + regime] = {
            "std": std, "harmonics": h, "minima_deg": np.degrees(fits_minima(alphas, std)),
            "cos4_per_realization": per[:, 0],
            "cos4_mean": float(per[:, 0].mean()),
            "cos4_sem": float(per[:, 0].std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan"),
            "cos4_over_c0": float(per[:, 0].mean() / h["c0"])}
    return out


def fits_harmonics(alphas, std):
    from femplastic.weakplane import fits

    return fits.harmonics(alphas, std, (2, 4))


def fits_minima(alphas, std):
    from femplastic.weakplane import fits

    return fits.circular_minima(alphas, std)


def dip45(alphas: np.ndarray, curve: np.ndarray) -> float:
    """Local-minimum depth at +-45 deg: ``curve(45) - min(curve at the two adjacent angles)``,
    averaged over +45 and -45 deg. < 0: a strict local minimum there; > 0: none (on a slope
    the value is about the slope times the angle step). The alpha grid is periodic (180 deg)
    and must contain +-45 deg."""
    a = np.degrees(alphas)
    out = []
    for c in (-45.0, 45.0):
        d = (a - c + 90.0) % 180.0 - 90.0  # periodic in 180 deg
        i0 = int(np.argmin(np.abs(d)))
        if abs(d[i0]) > 1e-6:
            raise ValueError("the alpha grid must contain +-45 deg")
        m = curve.size
        out.append(curve[i0] - min(curve[(i0 - 1) % m], curve[(i0 + 1) % m]))
    return float(np.mean(out))


def yield_ensemble(p: fp.ModelParams, mesh_of, seed: int, realizations: int, n: int,
                   alphas: np.ndarray, gamma_end: float, dgamma: float, stride: int) -> dict:
    """The local yield test vs alpha (fig. 4/8) on the quench and the stationary state.

    Per realisation r (``mesh_of(r)``: its mesh, None for the grid of ``p``): T = 0.25 KMC
    quench, a patch scan (side ``n``, positions every ``stride``, all ``alphas``), AQS to
    ``gamma_end`` and the same scan. For tau_c and dtau_c: the mean and the standard
    deviation over patches vs alpha (pooled over realisations) with their strict local minima,
    and per realisation the local-minimum depth at +-45 deg (:func:`dip45`) and the order-4
    Fourier component of the std curve, whose spread over the independent realisations gives
    the error bars.
    """
    from femplastic.weakplane.probes.local_yield import local_yield

    acc: dict = {}
    align, n_elem, npatch = [], [], []
    for rng, pp, st in quenched(p, mesh_of, seed, realizations):
        m = st.model.mesh
        align.append(edge_alignment(m))
        n_elem.append(m.n_elem)
        for regime in ("quench", "stationary"):
            if regime == "stationary":
                st = fp.aqs(st, pp, rng, gamma_end=gamma_end, dgamma=dgamma).state
            ly = local_yield(st, pp, rng, n, alphas, stride=stride)
            npatch.append(ly.patch_elements)
            for f in ("tau_c", "dtau_c"):
                acc.setdefault((regime, f), []).append(getattr(ly, f))
    out = {"edge_cos4": align, "n_elem": n_elem, "n": n, "stride": stride,
           "patch_elements_mean": float(np.mean(np.concatenate(npatch))),
           "patch_elements_std": float(np.std(np.concatenate(npatch)))}
    for (regime, f), xs in acc.items():
        X = np.concatenate(xs)  # (patches pooled, n_alpha)
        per_std = np.array([x.std(axis=0) for x in xs])
        per_mean = np.array([x.mean(axis=0) for x in xs])
        k = len(xs)

        def ms(v, k=k):
            return {"mean": float(np.mean(v)),
                    "sem": float(np.std(v, ddof=1) / np.sqrt(k)) if k > 1 else float("nan")}

        out[f"{f}_{regime}"] = {
            "mean": X.mean(axis=0), "std": X.std(axis=0), "n_patches": int(X.shape[0]),
            "dip45_std": ms([dip45(alphas, c) for c in per_std]),
            "dip45_mean": ms([dip45(alphas, c) for c in per_mean]),
            "cos4_std": ms([fits_harmonics(alphas, c)["cos4"] for c in per_std]),
            "minima_std_deg": np.degrees(fits_minima(alphas, X.std(axis=0))),
            "minima_mean_deg": np.degrees(fits_minima(alphas, X.mean(axis=0))),
            "std_per_realization": per_std, "mean_per_realization": per_mean}
    return out
