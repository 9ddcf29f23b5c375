"""numba's BLAS and LAPACK are loaded without importing scipy.linalg, and solve the same."""
from __future__ import annotations

import subprocess
import sys

import numpy as np

# A path whose face Newton steps call LAPACK's dgesv (16 rows, several non-zero columns); prints its
# coefficients' bytes and whether scipy.linalg was imported.
PROGRAM = """
import sys
{first}
import numpy as np
from trialomics.cox_path import elastic_net_cox_path
rng = np.random.default_rng(3)
X = rng.normal(size=(16, 40))
X -= X.mean(axis=0)
coef, usable = elastic_net_cox_path(X, rng.exponential(1.0, 16), rng.random(16) < 0.8,
                                    np.geomspace(0.5, 0.02, 8), np.ones(40), 0.5)
assert usable == 8 and (coef[:, -1] != 0).sum() > 3
print("scipy.linalg" in sys.modules, coef.tobytes().hex())
"""


def run(first: str) -> tuple[str, str]:
    done = subprocess.run([sys.executable, "-c", PROGRAM.format(first=first)], capture_output=True, text=True,
                          check=True)
    loaded, coefficients = done.stdout.split()
    return loaded, coefficients


def test_kernels_run_without_importing_scipy_linalg_and_solve_as_with_it():
    preloaded = run("from trialomics import numba_lapack; assert numba_lapack.preload()")
    imported = run("import scipy.linalg")
    assert preloaded[0] == "False" and imported[0] == "True"
    assert preloaded[1] == imported[1]


def test_a_later_import_of_scipy_linalg_reuses_the_loaded_modules():
    from trialomics import numba_lapack

    done = subprocess.run([sys.executable, "-c", (
        "import sys\n"
        "from trialomics import numba_lapack\n"
        "assert 'scipy.linalg' not in sys.modules and numba_lapack.preload()\n"
        "lapack = sys.modules['scipy.linalg.cython_lapack']\n"
        "import numpy as np, scipy.linalg\n"
        "import scipy.linalg.cython_lapack as imported\n"
        "from scipy.linalg import cython_blas\n"
        "assert imported is lapack and cython_blas is sys.modules['scipy.linalg.cython_blas']\n"
        "print(scipy.linalg.solve(np.array([[2.0, 1.0], [1.0, 3.0]]), np.array([1.0, 2.0])).tolist())\n")],
        capture_output=True, text=True, check=True)
    assert np.allclose(eval(done.stdout), [0.2, 0.6])
    # In this process scipy.linalg may be imported already: then it does nothing and says so.
    assert numba_lapack.preload() is ("scipy.linalg" not in sys.modules)
