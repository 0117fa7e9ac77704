import numpy as np
import pytest
from hypothesis import settings

# Property tests draw the same examples on every run, so a red CI is a change's doing, not
# the draw's; `pytest --hypothesis-profile=explore` draws fresh ones (run it when changing
# numerics: it found check_grad's false alarm on high curvature).
settings.register_profile("default", derandomize=True)
settings.register_profile("explore", derandomize=False, max_examples=500)
settings.load_profile("default")


@pytest.fixture
def rng():
    return np.random.default_rng(0)
