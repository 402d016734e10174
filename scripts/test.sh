#!/usr/bin/env bash
# Set up (idempotent) and run the default, offline test suite. Extra args go to pytest,
# e.g. `bash scripts/test.sh -m slow` for the long tests, `-n 0` for one process.
# pytest-xdist runs one worker per core (at most 4: each starts train.py subprocesses); each worker
# and each subprocess gets one torch thread (tests/conftest.py), as parallel jobs on few cores must.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
export HF_DATASETS_OFFLINE=1 WANDB_MODE=offline OMP_NUM_THREADS=1
exec "${PYTHON:-python}" -m pytest -q -n auto --maxprocesses 4 --dist worksteal "$@"
