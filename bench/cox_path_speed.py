"""CPU per path of the compiled penalised paths on a run's folds, and whether their bits changed.

Two commands:

  python bench/cox_path_speed.py capture RUN_DIRECTORY OUT.npz [--blocks pfs:rna,pfs:joint]
         [--permutations 2] [--repeats 1] [--stability 2] [--every 5] [--solver cox|logistic]
  python bench/cox_path_speed.py replay OUT.npz [--rounds 3]

``capture`` runs the models blocks of a finished run in this process (as ``bench/models_runtime.py
blocks`` does) and keeps every ``--every``-th call of the solver the models make (``cox``:
:func:`trialomics.cox_path.elastic_net_cox_path`, for pfs/os blocks; ``logistic``:
:func:`trialomics.logistic_path.l1_logistic_path`, for responder/clinical_benefit blocks): its inputs
and the coefficients it returned (the Cox design's centring, ``shift``, included). ``replay`` solves every
captured path again with the code as it is now (``PYTHONPATH`` may point at another checkout's
``scripts``), prints the CPU seconds per path (the best of
``--rounds`` rounds over all paths, so that other processes on the machine inflate it less) and the
largest |difference| of the coefficients from the captured ones, with the number of paths whose
coefficients are not bit-identical. Capture with the code before a change, replay after it. Exit status
0 when every path is bit-identical. BLAS runs on one thread, as in a ``models_fit`` job.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from models_runtime import load_inputs, run_block  # bench/ is on sys.path when a bench script runs


# The arguments each solver is called with (model_paths' calls), then the captured result and its block.
ARGUMENTS = {"cox": ("X", "time", "event", "alphas", "factor", "l1_ratio", "tol"),
             "logistic": ("X", "label", "alphas", "factor", "intercept_penalty")}
SOLVERS = {"cox": "elastic_net_cox_path", "logistic": "l1_logistic_path"}


def capture(args) -> int:
    from trialomics import model_paths

    solve = getattr(model_paths, SOLVERS[args.solver])
    kept: dict[str, list] = {key: [] for key in (*ARGUMENTS[args.solver], "coef", "block")}
    shifts: list = []
    firsts: list = []
    calls = 0

    def recording(*arguments, **options):
        nonlocal calls
        result = solve(*arguments, **options)
        # Stability selection's paths stop once q features have entered (``stop_entered``): not kept.
        if calls % args.every == 0 and not options.get("stop_entered"):
            for key, value in zip(kept, (*arguments, result[0], block)):
                kept[key].append(np.array(value))
            if "shift" in options:         # the Cox design's centring (model_paths passes the column means)
                shifts.append(np.zeros(arguments[0].shape[1]) if options["shift"] is None
                              else np.array(options["shift"]))
                # A grid's first penalty solved as the null model (a path on the data its grid was made on).
                firsts.append(np.array(bool(options.get("first_is_alpha_max", False))))
        calls += 1
        return result

    obs, matrices = load_inputs(Path(args.run))
    settings = {"permutations": args.permutations, "repeats": args.repeats, "stability": args.stability}
    setattr(model_paths, SOLVERS[args.solver], recording)
    try:
        for block in args.blocks.split(","):
            endpoint, model = block.split(":")
            run_block(obs, matrices, endpoint, model, settings, 1)
    finally:
        setattr(model_paths, SOLVERS[args.solver], solve)
    if shifts:
        kept["shift"] = shifts
        kept["first_is_alpha_max"] = firsts
    arrays = {f"{key}_{i}": value for key, values in kept.items() for i, value in enumerate(values)}
    np.savez_compressed(args.out, count=len(kept["X"]), solver=args.solver, **arrays)
    print(f"{calls} paths solved, {len(kept['X'])} kept in {args.out}")
    return 0


def replay(args) -> int:
    from trialomics import model_paths

    saved = np.load(args.captured)
    kind = str(saved["solver"]) if "solver" in saved else "cox"
    solve, names = getattr(model_paths, SOLVERS[kind]), ARGUMENTS[kind]
    paths = [{key: saved[f"{key}_{i}"] for key in (*names, "coef", "block")} for i in range(int(saved["count"]))]

    shifted = kind == "cox" and "shift_0" in saved     # captures before the Cox centring was kept have none
    if shifted:
        for i, path in enumerate(paths):
            path["shift"] = saved[f"shift_{i}"]
            # Captures before the first penalty of a path's own grid was solved as the null model have none.
            first = f"first_is_alpha_max_{i}"
            path["first_is_alpha_max"] = bool(saved[first]) if first in saved else False

    def arguments(path):
        return [path[name] if path[name].ndim else path[name].item() for name in names]

    def solved(path):
        if shifted:
            return solve(*arguments(path), shift=path["shift"], first_is_alpha_max=path["first_is_alpha_max"])
        return solve(*arguments(path))

    solved(paths[0])                   # compile or load the cache
    best: dict[str, float] = {}
    worst, changed = 0.0, 0
    for round_ in range(args.rounds):
        seconds: dict[str, float] = {}
        for path in paths:
            start = time.process_time()
            coef = solved(path)[0]
            block = str(path["block"])
            seconds[block] = seconds.get(block, 0.0) + time.process_time() - start
            if round_ == 0 and not np.array_equal(coef, path["coef"], equal_nan=True):
                changed += 1
                both = np.isfinite(coef) & np.isfinite(path["coef"])
                worst = max(worst, float(np.abs(coef[both] - path["coef"][both]).max(initial=0.0)))
        for block, value in seconds.items():
            best[block] = min(best.get(block, np.inf), value)
    for block, seconds_ in best.items():
        widths = [path["X"].shape[1] for path in paths if str(path["block"]) == block]
        print(f"{block}: {len(widths)} paths of {int(np.median(widths))} median columns, "
              f"{1e3 * seconds_ / len(widths):.3f} ms CPU per path")
    total = sum(best.values())
    print(f"all ({kind}): {len(paths)} paths, {1e3 * total / len(paths):.3f} ms CPU per path "
          f"(best of {args.rounds} rounds)")
    print(f"coefficients: {changed} of {len(paths)} paths differ from the captured ones, max |diff| {worst:.3g}")
    return 0 if changed == 0 else 1


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    record = commands.add_parser("capture")
    record.add_argument("run")
    record.add_argument("out")
    record.add_argument("--blocks", default="pfs:rna,pfs:joint")
    record.add_argument("--permutations", type=int, default=2)
    record.add_argument("--repeats", type=int, default=1)
    record.add_argument("--stability", type=int, default=2)
    record.add_argument("--every", type=int, default=5)
    again = commands.add_parser("replay")
    again.add_argument("captured")
    record.add_argument("--solver", choices=sorted(ARGUMENTS), default="cox")
    again.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv[1:])
    from trialomics.runlog import limit_threads
    limit_threads(1)          # as in a models_fit job, whose BLAS runs on one thread
    return capture(args) if args.command == "capture" else replay(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
