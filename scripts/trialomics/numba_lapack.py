"""numba's BLAS and LAPACK, found without importing the whole of ``scipy.linalg``.

numba calls BLAS and LAPACK (the Cox path's dgesv and dgemm, :mod:`trialomics.cox_face_newton`) through
SciPy's Cython modules ``scipy.linalg.cython_blas`` and ``scipy.linalg.cython_lapack``, and imports them
when it sets up its compiler, at a process's first compiled call. Imported the usual way they run the
``scipy.linalg`` package's ``__init__`` first (its decompositions, sparse helpers and array-API layer):
0.22 of the 0.4 CPU-s that first call takes, in every ``models_fit`` job. :func:`preload` loads the two
extension modules on their own, from SciPy's files, under their full names: numba's import then finds
them in ``sys.modules``, and a later ``import scipy.linalg`` reuses them. It does nothing when
``scipy.linalg`` is imported already or either file is not where SciPy keeps it (numba then imports
them as before); the functions numba takes from them are the same either way.

The ``models_fit`` job calls it first thing, a process whose imports are known: were ``scipy.linalg``
imported after it, the two modules would be found by any import of them (``import ... as``, ``from
scipy.linalg import cython_lapack``, Cython's ``cimport``) but not as attributes of the package
(``scipy.linalg.cython_lapack`` after a plain ``import scipy.linalg``), which the import system binds
only when it loads a submodule itself.
"""
from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
from pathlib import Path

MODULES = ("cython_blas", "cython_lapack")


def preload() -> bool:
    """Load SciPy's BLAS and LAPACK Cython modules without ``scipy.linalg``; whether they are loaded so."""
    if "scipy.linalg" in sys.modules:
        return False
    if all(f"scipy.linalg.{name}" in sys.modules for name in MODULES):
        return True
    package = importlib.util.find_spec("scipy")
    if package is None or not package.submodule_search_locations:
        return False
    folder = Path(next(iter(package.submodule_search_locations))) / "linalg"
    files = {}
    for name in MODULES:
        candidates = [folder / f"{name}{suffix}" for suffix in importlib.machinery.EXTENSION_SUFFIXES]
        files[name] = next((path for path in candidates if path.is_file()), None)
        if files[name] is None:
            return False
    import scipy  # noqa: F401  (the parent package, light, as an import of a submodule would load it)

    for name, path in files.items():
        full_name = f"scipy.linalg.{name}"
        if full_name in sys.modules:
            continue
        spec = importlib.util.spec_from_file_location(full_name, path)
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except ImportError:
            return False
        sys.modules[full_name] = module
    return True
