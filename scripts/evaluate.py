"""Measure a trained model from its checkpoint alone: `python scripts/evaluate.py <checkpoint or run dir>`."""

import argparse
import json
import sys

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("path", help="a .ckpt file, or a run directory (its best checkpoint; its last, with a warning, when the best is missing)")
    parser.add_argument("--split", choices=["test", "val"], default="test")
    parser.add_argument("--allow-changed-data", action="store_true",
                        help="measure even if the data files changed since training (the split may differ)")
    args = parser.parse_args()

    from seqtrain.errors import SeqtrainError
    from seqtrain.run import evaluate

    try:
        print(json.dumps(evaluate(args.path, args.split, allow_changed_data=args.allow_changed_data), indent=2))
    except SeqtrainError as e:  # not a seqtrain checkpoint, none there, or changed data: one line, no traceback
        sys.exit(f"evaluate.py: error: {e}")
