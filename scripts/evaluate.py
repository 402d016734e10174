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
    parser.add_argument("--data", action="append", default=[], metavar="KEY=VALUE",
                        help="where moved or renamed data files are now, e.g. --data train_files=new/train.csv "
                             "(a path, a glob, or a list as [a.csv,b.csv]); taken when they hold the same contents, "
                             "read in the same order; repeat for each key")
    args = parser.parse_args()

    import logging

    from seqtrain.errors import SeqtrainError
    from seqtrain.run import evaluate

    said = logging.StreamHandler()  # what evaluate() says (moved files taken, data changed), on stderr; the JSON on stdout
    said.setFormatter(logging.Formatter("%(message)s"))
    logging.getLogger("seqtrain.run").addHandler(said)
    logging.getLogger("seqtrain.run").setLevel(logging.INFO)

    moved = {}
    for item in args.data:
        key, sep, value = item.partition("=")
        if not sep or not value:
            parser.error(f"--data {item!r}: write KEY=VALUE, e.g. --data train_files=new/train.csv")
        from omegaconf import OmegaConf  # a list as Hydra writes it: [a.csv,b.csv]

        parsed = OmegaConf.to_container(OmegaConf.create({"v": value}))["v"] if value.startswith("[") else value
        moved[key.removeprefix("data.")] = parsed
    try:
        print(json.dumps(evaluate(args.path, args.split, allow_changed_data=args.allow_changed_data, moved=moved), indent=2))
    except SeqtrainError as e:  # not a seqtrain checkpoint, none there, or changed data: one line, no traceback
        sys.exit(f"evaluate.py: error: {e}")
