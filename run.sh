#!/usr/bin/env bash
# The two commands a newcomer needs:
#   bash run.sh demo   set up .venv (once) and run the workflow on the demo trial into results/
#   bash run.sh test   set up .venv (once) and run the test suite
# Setup is idempotent: packages are reinstalled only when requirements.txt, constraints.txt or pyproject.toml
# change. The trialomics package itself is installed from this checkout (editable, so edits take effect at
# once); cluster conda environments (envs/*.yaml) install the same package with pip from the same folder.
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
VENV=.venv
STAMP=$VENV/.requirements.sha256
KERNEL_STAMP=$VENV/.kernels.sha256

setup() {
    if [[ ! -x $VENV/bin/python ]]; then
        "$PYTHON" -m venv "$VENV"
    fi
    local want
    want=$(cat requirements.txt constraints.txt pyproject.toml | sha256sum | cut -d' ' -f1)
    if [[ ! -f $STAMP || $(cat "$STAMP") != "$want" ]]; then
        "$VENV/bin/python" -m pip install --quiet --upgrade pip
        "$VENV/bin/python" -m pip install --quiet -r requirements.txt -c constraints.txt
        "$VENV/bin/python" -m pip install --quiet --no-deps --editable .
        echo "$want" > "$STAMP"
    fi
    # The models' numba kernels compile once into their cache (next to their sources), not in each of
    # the first models jobs; redone when the package's source changes (content or modification time):
    # numba keeps a cache entry per kernel file, so kernels whose file did not change load in a second.
    local kernels sources
    sources=(scripts/trialomics/*.py)
    kernels=$(cat "${sources[@]}" && stat -c %Y "${sources[@]}")
    kernels=$(echo "$kernels$want" | sha256sum | cut -d' ' -f1)
    if [[ ! -f $KERNEL_STAMP || $(cat "$KERNEL_STAMP") != "$kernels" ]]; then
        "$VENV/bin/trialomics" compile
        echo "$kernels" > "$KERNEL_STAMP"
    fi
}

case "${1:-}" in
    demo)
        setup
        shift
        "$VENV/bin/trialomics" run --snakefile workflow/Snakefile --configfile config/config.yaml \
            --cores "${CORES:-2}" --printshellcmds "$@"
        ;;
    test)
        setup
        shift
        # The browser test of the summary page drives Debian's chromium (never a downloaded browser).
        if ! command -v chromium >/dev/null 2>&1; then
            if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
                apt-get update -qq && apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
            else
                echo "chromium not found: the browser test will be skipped (install Debian's chromium to run it)" >&2
            fi
        fi
        "$VENV/bin/python" -m pytest -m "not slurm" "$@"
        ;;
    test-slurm)
        # The workflow through a real single-node SLURM (munged, slurmctld, slurmd from Debian's packages)
        # with the shipped profile; needs root to start the daemons.
        setup
        shift
        if ! command -v slurmctld >/dev/null 2>&1 && [[ $(id -u) -eq 0 ]]; then
            apt-get update -qq && apt-get install -y -qq slurm-wlm munge >/dev/null
        fi
        "$VENV/bin/python" -m pytest -m slurm tests/test_slurm.py "$@"
        ;;
    *)
        echo "usage: bash run.sh demo|test|test-slurm [extra snakemake or pytest arguments]" >&2
        exit 2
        ;;
esac
