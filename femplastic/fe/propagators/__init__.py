"""Propagators: the element stress response to element plastic strain, behind one interface.

:class:`Propagator` is the contract; :class:`PeriodicKernel` is the exact FFT-built convolution
kernel of the regular periodic grid, :class:`SparsePropagator` and :class:`DensePropagator` the
general FE responses of custom meshes and heterogeneous moduli, :class:`ShuffledPropagator` and
:class:`MeanFieldPropagator` the randomised kernels of variants D, G and I. Their numba forms live
in :mod:`femplastic.fe.propagators.kernels`.
"""

from .propagators import (
    ALIGNMENT,
    FFT_BATCH_THRESHOLD,
    DensePropagator,
    MeanFieldPropagator,
    PeriodicKernel,
    Propagator,
    ShuffledPropagator,
    SparsePropagator,
    aligned_zeros,
    fold_kernel,
    make_propagator,
)

__all__ = ["ALIGNMENT", "FFT_BATCH_THRESHOLD", "DensePropagator", "MeanFieldPropagator",
           "PeriodicKernel", "Propagator", "ShuffledPropagator", "SparsePropagator",
           "aligned_zeros", "fold_kernel", "make_propagator"]
