"""Export a trained model to ONNX with its recurrent state as explicit inputs and outputs:
`python scripts/export.py <checkpoint or run dir> --format onnx --out model.onnx`.

Writes the graph `(inputs, h0[, c0]) -> (predictions, hn[, cn])` and, beside it, `<out>.json` (data
facts, vocabulary/scaling, input and output names); then runs it with onnxruntime (CPU) on random
inputs and a random state and prints the largest difference to the PyTorch model."""

import argparse
import logging
import sys

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", help="a .ckpt file, or a run directory (its best checkpoint; its last, with a warning, when the best is missing)")
    parser.add_argument("--format", default="onnx", help="onnx (the only format; TorchScript is deprecated in torch 2.13)")
    parser.add_argument("--out", required=True, help="the file to write, e.g. model.onnx")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    from seqtrain.checkpoint import CheckpointError
    from seqtrain.export import ExportError, export_checkpoint

    try:
        out, difference = export_checkpoint(args.path, args.out, args.format)
    except (CheckpointError, ExportError) as e:
        sys.exit(f"error: {e}")
    print(f"wrote {out} and {out.with_suffix('.json')}")
    print(f"onnxruntime vs PyTorch, largest difference: {difference:.3g}")
