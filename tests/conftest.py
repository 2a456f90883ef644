from pathlib import Path

import numpy as np
import pytest

MESHES = Path(__file__).resolve().parents[1] / "meshes"


@pytest.fixture
def meshes_dir() -> Path:
    return MESHES


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


@pytest.fixture(autouse=True)
def _python_signal_handling():
    """Give every test the signal handling Python starts with, whatever the last one ran.

    Native libraries (Gmsh's ``initialize``, for one) may reset SIGPIPE to "terminate" or
    SIGINT to its default for the whole process; the suite's later tests (a Dask client's
    broken socket) would then kill pytest (exit 141). femplastic's own use of Gmsh keeps
    them (``test_meshing_leaves_the_process_signal_handling_alone``); this guards the suite
    against a test that calls such a library directly.
    """
    import signal
    import threading

    yield
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
            signal.signal(signal.SIGINT, signal.default_int_handler)
