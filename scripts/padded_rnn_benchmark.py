"""Time one training step (forward and backward) of a padded batch through the recurrent backbone on the CPU: torch's
packed path against the segments `RecurrentBackbone` runs there (README, Model options: padding).

    python scripts/padded_rnn_benchmark.py [--lengths 30 100 500 1500] [--repeats 5]

A bidirectional GRU-64 over 16 rows of 64 features, one thread; each row as long as a random draw between half the
longest and the longest (seed 0), so a batch holds ~16 distinct lengths (the segments' worst case).
"""

from __future__ import annotations

import argparse
import time

import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from seqtrain.models.backbone import RecurrentBackbone


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[30, 100, 500, 1500])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    backbone = RecurrentBackbone("gru", 64, 64, bidirectional=True)
    print("| longest row | packed (s a step) | segments (s a step) |\n|---|---|---|")
    for T in args.lengths:
        x = torch.randn(16, T, 64, requires_grad=True)
        lengths = torch.randint(max(1, T // 2), T + 1, (16,))
        lengths[0] = T - 1  # padded: the longest row is shorter than the tensor, so every row is

        def packed() -> torch.Tensor:
            out, _ = backbone.rnn(pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False))
            return pad_packed_sequence(out, batch_first=True, total_length=T)[0]

        seconds = {}
        for name, run in (("packed", packed), ("segments", lambda: backbone(x, lengths)[0])):
            started = time.perf_counter()
            for _ in range(args.repeats):
                run().sum().backward()
            seconds[name] = (time.perf_counter() - started) / args.repeats
        print(f"| {T} | {seconds['packed']:.4f} | {seconds['segments']:.4f} |", flush=True)


if __name__ == "__main__":
    main()
