"""How many threads the numba kernels use, and which of their regions run on threads.

One thread unless asked. The count is, in this order: :func:`set_threads` (``femplastic run
--threads N`` calls it), else ``FEMPLASTIC_THREADS``, else 1 - in a library session and in
the CLI alike (ensemble workers too: :mod:`femplastic.ensemble.runners`). With one thread
no parallel region is ever entered: the kernels run their serial forms, the code path of a
build without threads.

With more threads asked for, the drivers pass the kernels a *grain* (:func:`parallel_for`,
an int ``par``; 0 = serial) and each parallel region decides for itself, from the work it is
about to do, whether it runs on threads: a region runs threaded when its work is at least
its weight times the grain (:data:`GRAIN` elements by default):

==============================================  =========================  ======
region                                          work                        weight
==============================================  =========================  ======
stability scan (``kernels.find_active``)        elements scanned (n)          1
KMC refresh pass (``kmc_kernels._sync``)        elements scanned (n)          1
trigger bounds (``kernels.trigger_bounds``)     elements bounded (n)          2
sweep's stress update (``apply_form``, kind 0)  events in the sweep x n       4
loaded stress (``kernels.trial_stress``)        elements written (n)          4
mean and base copy (``aqs_kernels``)            elements summed (n)           8
==============================================  =========================  ======

So with the default grain ``2**15`` on 2 threads the scan is threaded from L = 182, the
sweep's update when it has ``4 * 2**15 / n`` events or more (two at L = 256, one from
L = 363), the trigger bounds from L = 256, the loaded stress from L = 363, the mean from
L = 512. The weights are the break-even sizes
measured region by region (numba's OpenMP layer, 2-core machine, a second process running
beside: L = 128: every region 0.9-1.1x on 2 threads; L = 256: scan 1.8x, bounds 1.2x,
one-event update 1.05x, loaded stress 0.93x, mean 1.06x; L = 512: 1.1-2.0x). The stress
update of a sweep is one region over the target rows, its events applied in order in each
row (:func:`femplastic.fe.propagators.kernels.folded_add2_sweep`), so small sweeps and the
early transient stay serial while large sweeps amortise the region's cost over their events.

Whether a region pays also depends on what else runs: beside a busy process every fork-join
waits for a descheduled worker (regions 5-50x slower measured). So the AQS loop
(:func:`femplastic.weakplane.drivers.aqs.aqs`), which runs in chunks, measures threaded
against serial chunks as it goes and keeps threads only while they are faster
(:class:`Tuner`); the other drivers use the region sizes, and no threads at all while the
machine has no core free for them (:func:`cores_free`).

Load can appear during a run, so no driver decides once for a whole call: the compiled chunk
loops (AQS, the strain path of the cyclic driver, the stress ramp, the KMC quench, whose
blocks of ``n`` thermal steps run in compiled calls of ~0.1 s) measure with a
:class:`Tuner`, which also looks at the free cores every :data:`LOOK` seconds while it holds
threads and drops them at once when a core is taken (or a threaded chunk runs at less than
half the serial rate); the Python loops (AQS with ``stop_when`` or a propagator without a
numba form, :class:`~femplastic.weakplane.drivers.path.StrainPath`, the Python stress ramp,
the sweep-by-sweep relaxation, the KMC quench without a compiled form) hold a
:class:`Gate`, which looks at the free cores again every :data:`LOOK` seconds at their safe
points (between compiled calls); a single relaxation called on its own
(:func:`~femplastic.weakplane.drivers.aqs.relax`) decides once. A run beside a process that
starts spinning thus falls back to one thread within about :data:`LOOK` seconds plus one
compiled call. The runnable count excludes the run's own threads (an OpenMP worker still
spinning after a region is no other load).

Threaded regions write disjoint elements with the serial arithmetic, reductions are exact
(minima) or summed in a fixed block order, so the results are bit-identical whatever the
thread count, grain and threading layer.

Threading layer: femplastic asks numba for its OpenMP layer (:data:`LAYER`) before the first
parallel region, unless ``NUMBA_THREADING_LAYER`` is set. Its fork-join costs a few
microseconds; numba's ``workqueue`` layer cost 50-200 us per region here (every region at
L = 256 ran 2-4x slower than serial) and the TBB layer builds a task arena per call (62 s
against 5 s serial for one L = 256 AQS run). If the layer in force is not OpenMP (numba
without it, or another layer chosen before femplastic), the kernels stay serial and a
warning says so once; :data:`LAYERS` lists the layers threads are used with
(``femplastic bench threads`` widens it to measure the others).
"""

from __future__ import annotations

import os
import time
import warnings

__all__ = ["ENV", "GRAIN", "LAYER", "LAYERS", "LOOK", "Gate", "Tuner", "get_threads", "grain",
           "layer", "cores_free", "parallel_for", "resolve", "runnable_others", "set_threads"]

#: Environment variable giving the thread count (default 1).
ENV = "FEMPLASTIC_THREADS"
#: Default grain: a region runs threaded when its work (elements, see the table above) is at
#: least its weight times this.
GRAIN = 2**15
#: The threading layer femplastic asks numba for.
LAYER = "omp"
#: Layers the kernels use threads with; with any other the kernels run serially.
LAYERS = ("omp",)
#: Seconds between two looks at the free cores while a run may use threads (:class:`Gate`,
#: :class:`Tuner`; a look reads ``/proc/loadavg`` and this process's threads, ~0.1 ms).
LOOK = 0.1

_count: int | None = None  # set_threads' count; None: $FEMPLASTIC_THREADS, else 1
_grain = GRAIN
_warned = False


def resolve(threads: int | None = None) -> int | None:
    """The thread count asked for: ``threads``, else ``$FEMPLASTIC_THREADS``, else None.

    Parameters
    ----------
    threads : int, optional
        An explicit count (>= 1).

    Returns
    -------
    int or None
        The count, or None when none was asked for (the kernels then use one thread).

    Raises
    ------
    ValueError
        If the count (argument or environment) is not an integer >= 1.
    """
    if threads is None:
        raw = os.environ.get(ENV, "").strip()
        if not raw:
            return None
        try:
            threads = int(raw)
        except ValueError:
            raise ValueError(f"{ENV} must be an integer >= 1, got {raw!r}") from None
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be an integer >= 1, got {threads!r}")
    return threads


def _top() -> int:
    import numba

    return int(numba.config.NUMBA_NUM_THREADS)


def set_threads(threads: int | None = None) -> int:
    """Set the thread count of the kernels (clipped to numba's maximum); returns it.

    Parameters
    ----------
    threads : int, optional
        Threads (>= 1); None: ``$FEMPLASTIC_THREADS``, else 1.

    Returns
    -------
    int
        The number of threads the kernels now use.

    Raises
    ------
    ValueError
        If the count is not an integer >= 1.
    """
    global _count
    _count = min(resolve(threads) or 1, _top())
    if _count > 1:
        _numba_threads(_count)
    return _count


def get_threads() -> int:
    """The number of threads the kernels use now (1 unless asked for).

    Returns
    -------
    int
        :func:`set_threads`' count, else ``$FEMPLASTIC_THREADS`` (clipped to numba's maximum),
        else 1.
    """
    if _count is not None:
        return _count
    return min(resolve() or 1, _top())


def grain(value: int | None = None) -> int:
    """The grain of the threaded regions (elements); ``value`` sets it first.

    Parameters
    ----------
    value : int, optional
        New grain (>= 1); 1 runs every region threaded (tests of the threaded forms).

    Returns
    -------
    int
        The grain in force.

    Raises
    ------
    ValueError
        If ``value`` is not an integer >= 1.
    """
    global _grain
    if value is not None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"grain must be an integer >= 1, got {value!r}")
        _grain = value
    return _grain


def layer() -> str | None:
    """The threading layer numba runs, or None before its first parallel region.

    Returns
    -------
    str or None
    """
    from numba.np.ufunc import parallel

    if not parallel._is_initialized:
        return None
    import numba

    return str(numba.threading_layer())


def _numba_threads(count: int) -> bool:
    """Choose the layer (first time), set numba's count; whether threads may be used."""
    global _warned
    import numba

    if layer() is None and numba.config.THREADING_LAYER == "default" and not os.environ.get(
            "NUMBA_THREADING_LAYER"):
        numba.config.THREADING_LAYER = LAYER
    try:
        numba.set_num_threads(count)  # starts the layer; per calling thread
    except (ValueError, RuntimeError) as err:  # the layer asked for is missing
        if not _warned:
            _warned = True
            warnings.warn(f"numba threads unavailable ({err}); femplastic runs serially",
                          RuntimeWarning, stacklevel=3)
        return False
    used = layer()
    if used not in LAYERS:
        if not _warned:
            _warned = True
            warnings.warn(f"numba's threading layer is {used!r}, not one of {LAYERS} "
                          "(short parallel regions cost more than they save there); "
                          "femplastic runs serially", RuntimeWarning, stacklevel=3)
        return False
    return True


def cores_free() -> bool:
    """Whether the machine has a core free for each extra thread (Linux; else True).

    Runnable threads of other processes (:func:`runnable_others`) plus the thread count must
    not exceed the CPUs: on an oversubscribed machine a fork-join waits for a descheduled
    worker (regions 5-50x slower measured).

    Returns
    -------
    bool
    """
    others = runnable_others()
    return others is None or others + get_threads() <= (os.cpu_count() or 1)


def parallel_for(n_elements: int, gate: bool = True) -> int:
    """The ``par`` argument of the kernels for a model of ``n_elements``: 0 or the grain.

    A driver passes it down (directly for one compiled call, through a :class:`Gate` or a
    :class:`Tuner` in its loops); each parallel region then decides from its own work (see
    the module notes). 0 (all serial) with one thread, when no region
    can reach the grain (a sweep's update, the largest, has at most ``n_elements**2``), when
    the threading layer in force is not one of :data:`LAYERS`, or (``gate``) when no core is
    free for the extra threads now (:func:`cores_free`; a driver that measures, with a
    :class:`Tuner`, asks without the gate: the Tuner looks before each threaded probe).
    Sets numba's thread count for the calling thread. Either way the results are
    bit-identical.

    Parameters
    ----------
    n_elements : int
        Elements of the model (``L * L`` on the periodic grid).
    gate : bool
        Serial when :func:`cores_free` says no.

    Returns
    -------
    int
        0, or the grain (elements, >= 1).
    """
    count = get_threads()
    if count < 2 or n_elements * n_elements < _grain:  # no sweep (<= n events) reaches it
        return 0
    if gate and not cores_free():
        return 0
    return _grain if _numba_threads(count) else 0


def runnable_others() -> int | None:
    """Threads runnable on the machine now besides this process's (Linux ``/proc``).

    The instantaneous runnable count of ``/proc/loadavg`` minus the threads of this process
    in state R (at least one: the caller), so that the run's own OpenMP workers, still
    spinning after a region, do not count as other load.

    Returns
    -------
    int or None
        Runnable threads of other processes; None where ``/proc/loadavg`` cannot be read.
    """
    try:
        with open("/proc/loadavg") as f:
            total = int(f.read().split()[3].split("/")[0])
    except (OSError, ValueError, IndexError):
        return None
    return max(total - _own_runnable(), 0)


def _own_runnable() -> int:
    """Threads of this process in state R (``/proc/self/task``); 1 where unreadable."""
    own = 0
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return 1
    for t in tasks:
        try:
            with open(f"/proc/self/task/{t}/stat", "rb") as f:
                stat = f.read()
        except OSError:  # the thread ended meanwhile
            continue
        i = stat.rfind(b")")
        own += stat[i + 2:i + 3] == b"R"
    return max(own, 1)


class Gate:
    """The ``par`` of a driver's Python loop, the free-core check made again as it runs.

    :func:`parallel_for` once (without its gate) for the grain, then :attr:`par` is the
    grain while :func:`cores_free` says yes, looked at again when :attr:`par` is read
    ``look`` seconds or more after the last look (at the loop's safe points: between
    compiled calls). Results are bit-identical whichever it returns.

    Parameters
    ----------
    n_elements : int
        Elements of the model (see :func:`parallel_for`).
    look : float, optional
        Seconds between two looks (default :data:`LOOK`, read when the gate is made).
    """

    def __init__(self, n_elements: int, look: float | None = None) -> None:
        self.grain = parallel_for(n_elements, gate=False)
        self.look = LOOK if look is None else float(look)
        self._next = -float("inf")
        self._par = 0

    @property
    def par(self) -> int:
        """The ``par`` argument for the next compiled call (0 or the grain).

        Returns
        -------
        int
        """
        if self.grain <= 0:
            return 0
        now = time.perf_counter()
        if now >= self._next:
            self._par = self.grain if cores_free() else 0
            self._next = now + self.look
        return self._par


class Tuner:
    """Per chunk of a driver's compiled loop: threaded regions or serial, whichever is faster.

    The fixed weights (module notes) say which regions can pay on an idle machine; whether
    they do depends on what else runs (a busy process beside the run makes every fork-join
    wait for a descheduled worker: 5-50x slower regions measured). So a driver that works in
    chunks measures: the first ``probe`` seconds run serially, then threaded chunks (the
    driver starts them with one avalanche) until ``probe`` seconds, or until they run at
    less than half the serial rate; the faster (in work per second, work as the driver
    counts it) runs for ``hold`` seconds; then both are measured again, ``hold`` doubling
    (up to ``hold_max``) while the choice stands. Threads are kept only when at least
    ``margin`` times faster. No threaded probe is made while the machine has no free core
    for the extra threads (runnable threads of other processes, :func:`runnable_others`, plus
    the count exceed the CPUs). While it holds threads it looks at the free cores again
    after every chunk that ends ``look`` seconds or more after the last look, and drops the
    threads at once (serial for ``hold``, then both measured again) when a core is taken or
    the threaded chunks since the last look ran at less than half the measured serial rate:
    load that appears during a hold costs about one chunk, not the rest of the hold. What
    probing the slower mode costs is at most about ``probe`` seconds per ``hold`` (under 5 %
    with the defaults, less as ``hold`` grows). Results are bit-identical whichever mode runs.

    Parameters
    ----------
    par : int
        The grain (:func:`parallel_for`); 0: always serial (no measuring).
    probe, hold, hold_max : float
        Seconds (see above).
    margin : float
        Speed-up threads must show to be kept (> 1 guards against measurement noise).
    look : float, optional
        Seconds between two looks at the free cores while threads are held (default
        :data:`LOOK`, read when the tuner is made).
    """

    def __init__(self, par: int, probe: float = 0.1, hold: float = 2.0,
                 hold_max: float = 60.0, margin: float = 1.05,
                 look: float | None = None) -> None:
        self.grain = int(par)
        self.probe, self.hold0, self.hold_max, self.margin = probe, hold, hold_max, margin
        self.hold = hold
        self.look = LOOK if look is None else float(look)
        self._looked = [0.0, 0.0]  # work, seconds held since the last look at the cores
        self._work = [0.0, 0.0]  # serial, threaded
        self._time = [0.0, 0.0]
        self._mode = 0  # 0 serial, 1 threaded
        self._measuring = self.grain > 0
        self._held = 0.0
        self._choice: int | None = None

    @property
    def par(self) -> int:
        """The ``par`` argument for the next chunk (0 or the grain).

        Returns
        -------
        int
        """
        return self.grain if self._mode == 1 else 0

    def _choose(self, choice: int) -> None:
        self.hold = min(2.0 * self.hold, self.hold_max) if choice == self._choice else self.hold0
        self._choice = choice
        self._mode = choice
        self._measuring = False
        self._held = 0.0
        self._looked = [0.0, 0.0]

    def record(self, work: float, seconds: float) -> bool:
        """Book a chunk that did ``work`` in ``seconds`` with :attr:`par`.

        Parameters
        ----------
        work : float
            The chunk's work in the driver's units (e.g. events plus a few per avalanche).
        seconds : float
            Its wall time.

        Returns
        -------
        bool
            Whether the mode changes for the next chunk (a driver starts a threaded probe
            short: one avalanche).
        """
        if self.grain <= 0:
            return False
        before = self._mode
        if not self._measuring:
            self._held += seconds
            if self._mode == 1:  # threads held: drop them as soon as load appears
                self._looked[0] += work
                self._looked[1] += seconds
                if self._looked[1] >= self.look:
                    w, t = self._looked
                    self._looked = [0.0, 0.0]
                    if w < 0.5 * t * self._work[0] / max(self._time[0], 1e-12) \
                            or not cores_free():
                        self._choice = None  # serial for hold0, then measure again
                        self._choose(0)
                        return True
            if self._held >= self.hold:  # measure both again, serial first
                self._measuring = True
                self._work = [0.0, 0.0]
                self._time = [0.0, 0.0]
                self._mode = 0
            return self._mode != before
        self._work[self._mode] += work
        self._time[self._mode] += seconds
        rate = [w / max(t, 1e-12) for w, t in zip(self._work, self._time, strict=True)]
        if self._mode == 0:
            if self._time[0] >= self.probe:
                if cores_free():
                    self._mode = 1
                else:  # no core free for the threads: stay serial, look again later
                    self._choose(0)
        elif rate[1] < 0.5 * rate[0]:  # clearly slower: stop the probe now
            self._choose(0)
        elif self._time[1] >= self.probe:
            self._choose(1 if rate[1] >= self.margin * rate[0] else 0)
        return self._mode != before
