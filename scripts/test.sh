#!/usr/bin/env bash
# Set up (idempotent) and run the default, offline test suite. Extra args go to pytest,
# e.g. `bash scripts/test.sh -m slow` for the long tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
export HF_DATASETS_OFFLINE=1 WANDB_MODE=offline
exec "${PYTHON:-python}" -m pytest -q "$@"
