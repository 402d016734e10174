"""The machinery of `scripts/benchmark.py`: timing and figures, training loops side by side, the report.

`timing`: interleaved repeats, the figure record, allocator settings, counting torch calls.
`loops`: the plain PyTorch loop stepping beside Lightning's in the same run, and the default run.
`stamp`: a callback that `python train.py` runs take by override, for the start-up figure.
`report`: machine facts and the markdown table.
`results/` is where `scripts/benchmark.py` writes benchmark.json and benchmark.md by default.
"""
