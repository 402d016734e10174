"""Sample text from a trained language model:
`python scripts/generate.py <checkpoint or run dir> --prompt "ROMEO:" --length 500 --temperature 0.8`."""

import argparse

from seqtrain.generate import generate_text

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", help="a .ckpt file, or a run directory (its best checkpoint is used)")
    parser.add_argument("--prompt", default="\n", help="text to continue (default: a new line)")
    parser.add_argument("--length", type=int, default=500, help="tokens to generate")
    parser.add_argument("--temperature", type=float, default=0.8, help="below 1: safer; above 1: more varied")
    parser.add_argument("--top-k", type=int, default=None, help="sample among the k likeliest tokens only")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(generate_text(args.path, args.prompt, args.length, args.temperature, args.top_k, args.seed))
