#!/usr/bin/env bash
# Run a grid sweep on the GPUs of this machine: one job per GPU at a time, the next job starting
# on whichever GPU frees up first.
#
#   bash scripts/launch_local_gpus.sh trainer=gpu model=rnn,lstm,gru model.hidden_size=128,256
#   GPUS=0,1 SWEEP_DIR=outputs/multiruns/adding bash scripts/launch_local_gpus.sh experiment=adding model=rnn,lstm,gru seed=1,2,3
#
# The arguments are train.py overrides in Hydra's sweep syntax, expanded into jobs exactly as
# `python train.py -m` expands them. Job i runs as `python train.py -m <its overrides>` (a multirun
# of one, so a failure is recorded in its metrics.json as in any sweep) in SWEEP_DIR/i, with
# CUDA_VISIBLE_DEVICES set to its GPU and its console output in SWEEP_DIR/i/console.log. All jobs
# share one wandb group (the sweep directory). At the end: `scripts/summarize.py SWEEP_DIR`; the script exits with
# status 1 when no job ended well (as `python train.py -m` does when every job failed), else 0.
#
# Knobs (environment variables):
#   GPUS        comma-separated GPU ids to use (default: every GPU nvidia-smi lists)
#   SWEEP_DIR   the sweep directory (default: outputs/multiruns/<date>_<time>)
#   PYTHON      the interpreter (default: python)
# Optuna searches (hparams_search=...) ask for trials one batch at a time and are not split here:
# run those with `python train.py -m hparams_search=...`, or on a cluster with scripts/slurm_sweep.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
GPUS=${GPUS:-$(nvidia-smi --query-gpu=index --format=csv,noheader | paste -sd, -)}
SWEEP_DIR=${SWEEP_DIR:-outputs/multiruns/$(date +%Y-%m-%d_%H-%M-%S)}
if [[ -z "$GPUS" ]]; then
    echo "no GPUs: set GPUS=0,1,... (nvidia-smi listed none)" >&2
    exit 1
fi

# One line per job, its overrides shell-quoted: Hydra's own grid expansion (BasicSweeper's).
mapfile -t JOBS < <("$PY" - "$@" <<'EOF'
import shlex
import sys

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser

overrides = OverridesParser.create().parse_overrides(sys.argv[1:])
for job in BasicSweeper.split_arguments(overrides, max_batch_size=None)[0]:
    print(shlex.join(job))
EOF
)
mkdir -p "$SWEEP_DIR"
statuses="$SWEEP_DIR/.job_exit_statuses"  # one line per ended job: its exit status
: >"$statuses"
echo "sweep: ${#JOBS[@]} jobs on GPUs $GPUS in $SWEEP_DIR"

# A pool of free GPU ids: a job takes one from the pipe and puts it back when it ends.
pool=$(mktemp -u)
mkfifo "$pool"
exec 3<>"$pool"
rm "$pool"
for gpu in ${GPUS//,/ }; do
    echo "$gpu" >&3
done

for i in "${!JOBS[@]}"; do
    read -r -u 3 gpu  # waits until a GPU is free
    eval "args=(${JOBS[$i]})"
    mkdir -p "$SWEEP_DIR/$i"
    echo "[$(date +%T)] job $i on GPU $gpu: ${JOBS[$i]}"
    (
        status=0
        CUDA_VISIBLE_DEVICES=$gpu "$PY" train.py -m "${args[@]}" "hydra.sweep.dir=$SWEEP_DIR" "hydra.sweep.subdir=$i" \
            >"$SWEEP_DIR/$i/console.log" 2>&1 || status=$?
        echo "[$(date +%T)] job $i on GPU $gpu ended (exit status $status)"
        echo "$status" >>"$statuses"
        echo "$gpu" >&3
    ) &
done
wait
"$PY" scripts/summarize.py "$SWEEP_DIR"
if ! grep -qx 0 "$statuses"; then
    echo "every job failed (${#JOBS[@]} jobs; their errors are above, their output in $SWEEP_DIR/<job>/console.log)" >&2
    exit 1
fi
