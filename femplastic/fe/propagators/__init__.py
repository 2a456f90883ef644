"""Propagators: the element stress response to element plastic strain, behind one interface.

:class:`Propagator` is the contract; :class:`PeriodicKernel` is the exact FFT-built convolution
kernel of the regular periodic grid, :class:`SparsePropagator` and :class:`DensePropagator` the
general FE responses of custom meshes and heterogeneous moduli, :class:`ShuffledPropagator` and
:class:`MeanFieldPropagator` the randomised kernels of variants D, G and I. Their numba forms live
in :mod:`femplastic.fe.propagators.kernels`.

Modules: :mod:`~femplastic.fe.propagators.base` (the contract),
:mod:`~femplastic.fe.propagators.periodic` (the exact periodic kernel),
:mod:`~femplastic.fe.propagators.general` (sparse and dense FE responses,
:func:`~femplastic.fe.propagators.general.make_propagator`),
:mod:`~femplastic.fe.propagators.randomised` (models D, G and I).
"""

from .base import ALIGNMENT, FFT_BATCH_THRESHOLD, Propagator, aligned_zeros
from .general import DensePropagator, SparsePropagator, make_propagator
from .periodic import PeriodicKernel, fold_kernel
from .randomised import MeanFieldPropagator, ShuffledPropagator

__all__ = ["ALIGNMENT", "FFT_BATCH_THRESHOLD", "DensePropagator", "MeanFieldPropagator",
           "PeriodicKernel", "Propagator", "ShuffledPropagator", "SparsePropagator",
           "aligned_zeros", "fold_kernel", "make_propagator"]
