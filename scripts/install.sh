#!/usr/bin/env bash
# Install seqtrain and its dependencies into the current Python environment.
# torch is installed only when missing, as the CPU build pinned for this project; a torch you
# already have (e.g. a CUDA build) is never replaced.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
if ! "$PY" -c "import torch" >/dev/null 2>&1; then
    "$PY" -m pip install --quiet "torch==2.13.0"
fi
"$PY" -m pip install --quiet -e ".[dev,sweeps]"
