"""How an ensemble of finished runs would score: each run's best checkpoint on one split, and the mean of their outputs.

    python scripts/ensemble_runs.py outputs/runs/a outputs/runs/b outputs/runs/c [--split val|test]

Classification: accuracy of each run, of the mean of their class probabilities and of the mean of their
log-probabilities (the mean of logits that `model.members` takes, up to a constant per run). Regression: RMSE (in the
data's units) of each run and of the mean of their predictions. The runs must share their data (the first run's
split is read; each run encodes it with its own vocabulary or scaling). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def outputs(run: Path, split: str) -> tuple[torch.Tensor, torch.Tensor, Any]:
    """(predictions, targets, task kind) of the run's best checkpoint on `split`: logits, or values in the data's units."""
    from seqtrain.checkpoint import find_checkpoint, load_task

    task, data = load_task(find_checkpoint(run))
    data.setup("fit" if split == "val" else "test")
    loader = data.val_dataloader() if split == "val" else data.test_dataloader()
    predictions, targets = [], []
    with torch.no_grad():
        for batch in loader:
            preds, _ = task(batch.inputs, batch.lengths)
            if task.kind.name == "regression":
                preds, target = task.kind._real(preds, batch)
                preds, target = task.kind._unscaled(preds.double()), task.kind._unscaled(target.double())
            else:
                target = batch.targets
            predictions.append(preds.double())
            targets.append(target)
    return torch.cat(predictions), torch.cat(targets), task.kind


def scores(runs: list[Path], split: str) -> dict[str, Any]:
    results = [outputs(run, split) for run in runs]
    targets, kind = results[0][1], results[0][2]
    for _, other, _ in results[1:]:
        if not torch.equal(other, targets):
            raise SystemExit("ensemble_runs.py: the runs' targets differ on this split; give runs of the same data")
    stacked = torch.stack([preds for preds, _, _ in results])  # (runs, N, ...)
    if kind.name == "regression":
        def rmse(preds: torch.Tensor) -> float:
            return float(((preds - targets) ** 2).mean().sqrt())
        return {"split": split, "metric": "rmse", "runs": [rmse(p) for p in stacked], "mean_of_predictions": rmse(stacked.mean(0))}

    def accuracy(scores: torch.Tensor) -> float:
        return float((scores.argmax(-1) == targets).double().mean())
    log_probs = torch.log_softmax(stacked, dim=-1)
    return {"split": split, "metric": "accuracy", "runs": [accuracy(p) for p in stacked],
            "mean_of_probabilities": accuracy(log_probs.exp().mean(0)), "mean_of_log_probabilities": accuracy(log_probs.mean(0))}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path, help="run directories (or checkpoints)")
    parser.add_argument("--split", choices=["val", "test"], default="test")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    result = scores(args.runs, args.split)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
