"""Apply a trained model to new data:
`python scripts/predict.py <checkpoint or run dir> --files new.csv --out preds.csv` (or .jsonl, .parquet).

Reads the files with the run's own columns and encoders (from the checkpoint; nothing is refitted)
and writes one row per input row: classification `prediction` + `prob_<label>`; regression
`prediction` (`prediction_<k>` for several outputs) in the data's units; tagging `tokens` and a
label per step; language models `loss`, `ppl`, `bpt` per row; forecasting the next `horizon`
values after the series (`--steps N`: N steps, recursively). When the files hold the targets, it
prints the metrics too (on a run's own test data, its `test/...` metrics)."""

import argparse
import glob
import json
import logging
import sys
from pathlib import Path

from seqtrain.checks.arguments import int_at_least

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", help="a .ckpt file, or a run directory (its best checkpoint; its last, with a warning, when the best is missing)")
    parser.add_argument("--files", nargs="+", required=True, help="files or glob patterns, in the run's data format")
    parser.add_argument("--out", required=True, help="where to write the predictions: .csv, .jsonl or .parquet")
    parser.add_argument("--steps", type=int, default=None, help="forecasting: forecast N steps, feeding forecasts back")
    parser.add_argument("--batch-size", type=int_at_least(1), default=256, help="rows per forward pass")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    # Before torch is imported: the predictions must never replace the data they are made from.
    read = {Path(p).resolve() for pattern in args.files for p in (glob.glob(pattern) or [pattern])}
    if Path(args.out).resolve() in read:
        sys.exit(f"error: --out {args.out!r} is one of the --files: the predictions would replace the data they are "
                 "made from; name another file")

    from seqtrain.checkpoint import CheckpointError
    from seqtrain.checks.arguments import output_problem
    from seqtrain.predict import OUTPUT_FORMATS, Predictor, format_metrics

    # Everything that can be checked before the model and data are loaded.
    if not args.out.endswith(OUTPUT_FORMATS):
        sys.exit(f"error: --out {args.out!r}: the extension must be one of {', '.join(OUTPUT_FORMATS)}")
    if (problem := output_problem(args.out)) is not None:
        sys.exit(f"error: {problem}")
    if args.steps is not None and args.steps < 1:
        sys.exit(f"error: --steps must be >= 1, got {args.steps}")
    try:
        predictor = Predictor.from_checkpoint(args.path)
        files = [Path(f) for f in args.files]  # Paths: files or patterns, never in-memory text
        predictions = predictor.predict(files, steps=args.steps, batch_size=args.batch_size)
        out = predictions.write(args.out)
    except (CheckpointError, ValueError) as e:  # DataError is a ValueError
        sys.exit(f"error: {e}")
    print(f"wrote {len(predictions.table)} rows to {out}")
    if predictions.metrics is not None:
        print("metrics: " + format_metrics(predictions.metrics))
        print(json.dumps(predictions.metrics))
