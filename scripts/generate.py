"""Sample text from a trained language model:
`python scripts/generate.py <checkpoint or run dir> --prompt "ROMEO:" --length 500 --temperature 0.8`."""

import argparse
import math
import sys

from seqtrain.checks.arguments import int_at_least


def positive_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text} is not a finite number > 0")
    return value


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", help="a .ckpt file, or a run directory (its best checkpoint; its last, with a warning, when the best is missing)")
    parser.add_argument("--prompt", default="\n", help="text to continue (default: a new line)")
    parser.add_argument("--length", type=int_at_least(0), default=500, help="tokens to generate")
    parser.add_argument("--temperature", type=positive_float, default=0.8, help="below 1: safer; above 1: more varied")
    parser.add_argument("--top-k", type=int_at_least(1), default=None, help="sample among the k likeliest tokens only")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from seqtrain.checkpoint import CheckpointError
    from seqtrain.generate import generate_text

    try:
        print(generate_text(args.path, args.prompt, args.length, args.temperature, args.top_k, args.seed,
                            progress=True))
    except (CheckpointError, ValueError) as e:  # the user's input: one line, no traceback
        sys.exit(f"generate.py: error: {e}")
