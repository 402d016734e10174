#!/usr/bin/env bash
# Launch a sweep on a SLURM cluster: every job of the sweep is one task of a SLURM job array, on
# one GPU (configs/hydra/launcher/slurm.yaml, through Hydra's submitit launcher).
#
#   PARTITION=gpu TIME_MIN=120 bash scripts/slurm_sweep.sh model=rnn,lstm,gru model.hidden_size=128,256
#   PARTITION=gpu bash scripts/slurm_sweep.sh hparams_search=vowels_gru hydra.sweeper.n_jobs=8
#   PARTITION=gpu bash scripts/slurm_sweep.sh model=gru --cfg hydra    # print the config (one job: no sweep syntax), submit nothing
#
# Run it on the login node inside tmux or screen: it submits, waits for the jobs and prints their
# results (an Optuna search submits n_jobs trials at a time). The arguments are train.py
# overrides. Each job's run directory is under the sweep directory as usual; SLURM's own logs
# are in <sweep dir>/.submitit/<job id>/. Summarize with `python scripts/summarize.py <sweep dir>`.
#
# The knobs, as environment variables:
#   PARTITION  SLURM partition (default: the cluster's default)
#   TIME_MIN   wall time per job, in minutes (240)
#   GPUS       GPUs per job (1); more runs DDP on one node: one task per GPU, trainer=ddp
#   CPUS       CPUs per task (8)
#   MEM_GB     memory per job, in GB (32)
#   PARALLEL   array tasks running at once (32)
#   ACCOUNT    SLURM account to charge (optional)
#   QOS        quality of service (optional)
#   SETUP      one shell line run before each job (optional), e.g. "source ~/venvs/seqtrain/bin/activate"
#   PYTHON     the interpreter (default: python; the jobs run the same one)
# Anything else of the launcher: hydra.launcher.<key>=... (see configs/hydra/launcher/slurm.yaml).
set -euo pipefail
cd "$(dirname "$0")/.."
GPUS=${GPUS:-1}
# The numeric knobs: positive integers, checked here (GPUS=0 submitted jobs with no GPU and no task; GPUS=0,1, ids as
# launch_local_gpus.sh takes them, got Hydra's "Ambiguous value"; GPUS=two "unbound variable").
for knob in GPUS TIME_MIN CPUS MEM_GB PARALLEL; do
    value=${!knob:-1}
    if ! [[ "$value" =~ ^[1-9][0-9]*$ ]]; then
        hint=""
        [[ $knob == GPUS ]] && hint=" (GPUs per job, a count, not ids)"
        [[ $knob == TIME_MIN ]] && hint=" (minutes)"
        echo "slurm_sweep.sh: $knob=$value: must be a positive integer$hint" >&2
        exit 1
    fi
done
if [[ "$GPUS" -gt 1 ]]; then
    trainer=(trainer=ddp "trainer.devices=$GPUS")
else
    trainer=(trainer=gpu)
fi
launcher=(
    hydra/launcher=slurm
    "hydra.launcher.partition=${PARTITION:-null}"
    "hydra.launcher.timeout_min=${TIME_MIN:-240}"
    "hydra.launcher.gpus_per_node=$GPUS"
    "hydra.launcher.tasks_per_node=$GPUS"
    "hydra.launcher.cpus_per_task=${CPUS:-8}"
    "hydra.launcher.mem_gb=${MEM_GB:-32}"
    "hydra.launcher.array_parallelism=${PARALLEL:-32}"
    "hydra.launcher.account=${ACCOUNT:-null}"
    "hydra.launcher.qos=${QOS:-null}"
)
if [[ -n "${SETUP:-}" ]]; then
    launcher+=("hydra.launcher.setup=['${SETUP//\'/\\\'}']")
fi
mode=(-m)
for arg in "$@"; do
    if [[ "$arg" == --cfg || "$arg" == -c ]]; then
        mode=()  # print the composed config instead (Hydra allows only one of -m and --cfg)
    fi
done
exec "${PYTHON:-python}" train.py "${mode[@]}" "${launcher[@]}" "${trainer[@]}" "$@"
