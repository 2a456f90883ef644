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
