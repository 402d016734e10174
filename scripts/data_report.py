"""Print a markdown report of the shipped datasets: sizes, splits, lengths, padding, and baselines.

    python scripts/data_report.py

Everything here is computed from the data on the exact splits the datamodules serve (their
default settings), except the rows labelled as quoted: those come from `DATA_SOURCES.md` or the
literature and were measured elsewhere. No model is trained here; the benchmark does that.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable

import numpy as np

from seqtrain.data import (
    AddingDataModule,
    ForecastDataModule,
    ParityDataModule,
)
from seqtrain.data.ts_files import parse_ts
from seqtrain.shipped import asset_text, data_config_module, monthly_sunspots, shipped


def markdown_table(header: list[str], rows: Iterable[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def real_token_fraction(datamodule) -> float:
    """Share of the train loader's (B x T) input cells that are real steps, not padding (one epoch)."""
    datamodule.setup("fit")
    real = total = 0
    for batch in datamodule.train_dataloader():
        real += int(batch.lengths.sum())
        total += batch.inputs.shape[0] * batch.inputs.shape[1]
    return real / total


def sunspots_baselines(lags: int = 24) -> dict[str, float]:
    """One-step test RMSE (sunspot numbers) of persistence and a least-squares AR(lags) on `data=sunspots`' split.

    Test targets are the months `data=sunspots` tests on (the last 20%: months 2500..3125);
    the AR model (with an intercept) is fitted on the training months only, and, for comparison,
    on train + val (everything before the test months, as in DATA_SOURCES.md).
    """
    _, values = monthly_sunspots()
    x = np.asarray(values, dtype=np.float64)
    n = len(x)
    dm = ForecastDataModule(train_files=shipped("sunspots"), columns=["sunspots"])
    train_end = int(n * (1 - dm.val_fraction - dm.test_fraction))
    test_start = int(n * (1 - dm.test_fraction))

    def design(targets: range) -> np.ndarray:  # (len, lags + 1): the previous `lags` values and 1
        return np.array([[*x[t - lags : t], 1.0] for t in targets])

    def ar_rmse(fit_end: int) -> float:
        weights, *_ = np.linalg.lstsq(design(range(lags, fit_end)), x[lags:fit_end], rcond=None)
        predictions = design(range(test_start, n)) @ weights
        return float(np.sqrt(np.mean((predictions - x[test_start:]) ** 2)))

    persistence = float(np.sqrt(np.mean((x[test_start - 1 : -1] - x[test_start:]) ** 2)))
    return {
        "test_months": n - test_start,
        "persistence": persistence,
        f"ar{lags}_train": ar_rmse(train_end),
        f"ar{lags}_train_val": ar_rmse(test_start),
    }


def truecase_baselines() -> dict[str, float]:
    """Test accuracy of lookup-table taggers fitted on `data=truecase`'s training text (majority label per context).

    Contexts: none (always "lower"), the character itself, the previous and current character
    (left context only, as a unidirectional model sees), and previous, current and next (both sides).
    """
    dm = data_config_module("truecase")
    dm.setup()
    # The characters (as ids) and case labels of the windows the model is trained and tested on.
    codes = {s: dm.split(s).ids.flatten().numpy() for s in ("train", "test")}
    train_labels, test_labels = (dm.split(s).labels.flatten().numpy() for s in ("train", "test"))
    size = int(max(c.max() for c in codes.values())) + 2
    boundary = size - 1  # stands for "no character" before the first and after the last

    def contexts(c: np.ndarray, offsets: tuple[int, ...]) -> np.ndarray:
        key = np.zeros(len(c), dtype=np.int64)
        for offset in offsets:
            shifted = np.full(len(c), boundary)
            if offset < 0:
                shifted[-offset:] = c[:offset]
            elif offset > 0:
                shifted[:-offset] = c[offset:]
            else:
                shifted = c
            key = key * size + shifted
        return key

    results = {"upper_share_test": float(test_labels.mean()), "always_lower": float(1 - test_labels.mean())}
    for name, offsets in {"char": (0,), "prev_char": (-1, 0), "prev_char_next": (-1, 0, 1)}.items():
        train_keys, test_keys = contexts(codes["train"], offsets), contexts(codes["test"], offsets)
        keys, inverse = np.unique(np.concatenate([train_keys, test_keys]), return_inverse=True)
        upper = np.bincount(inverse[: len(train_keys)], weights=train_labels, minlength=len(keys))
        seen = np.bincount(inverse[: len(train_keys)], minlength=len(keys))
        predict_upper = upper > seen / 2  # unseen contexts: "lower"
        results[name] = float(np.mean(predict_upper[inverse[len(train_keys) :]] == test_labels))
    return results


def shakespeare_unigram_bits() -> float:
    """Test cross-entropy (bits/char) of character frequencies counted on `data=shakespeare`'s training text (add-one)."""
    dm = data_config_module("shakespeare", stateful=False, seq_len=128, batch_size=64)
    dm.setup()
    train = dm.split("train").windows.flatten()
    counts = np.bincount(train.numpy(), minlength=len(dm.tokenizer)) + 1.0
    probs = counts / counts.sum()
    test = dm.split("test").targets().numpy()
    return float(-np.mean(np.log2(probs[test])))


def split_sizes(datamodule) -> tuple[int, int, int]:
    """Examples in the train, val and test splits of a set-up datamodule (tokens, for stateful streams)."""
    # A stateful text split is (token ids, document starts or None): its size is its tokens.
    return tuple(len(split[0]) if isinstance(split, tuple) else len(split) for split in map(datamodule.split, ("train", "val", "test")))


#: Baselines measured elsewhere or known analytically, as (description, test score, source).
QUOTED_BASELINES = {
    "shakespeare_lstm": ("1-layer LSTM-256, TBPTT, ~2.5 min (validation, 90/10 split)", "1.69-1.72 nats/char", "quoted: DATA_SOURCES.md, measured elsewhere"),
    "vowels_1nn_dtw": ("1-NN, DTW distance", "0.949 accuracy", "quoted: DATA_SOURCES.md, measured elsewhere"),
    "vowels_1nn_euclidean": ("1-NN, Euclidean on zero-padded series", "0.916 accuracy", "quoted: DATA_SOURCES.md, measured elsewhere"),
    "vowels_published": ("InceptionTime / FCN / ResNet", "0.992 / 0.993 / 0.992 accuracy", "quoted: published (Fawaz et al. 2019)"),
    "adding_mean": ("predict the mean sum (1.0)", "~0.167 MSE", "analytic"),
    "parity_chance": ("chance", "0.5 accuracy", "analytic"),
}


def lengths_summary(lengths: list[int]) -> str:
    return f"{min(lengths)}-{max(lengths)} (median {statistics.median(lengths):g})"


def report() -> str:
    text = asset_text("shakespeare.txt.xz")
    shakespeare = data_config_module("shakespeare", stateful=False, seq_len=128, batch_size=64)
    shakespeare.setup()
    truecase = data_config_module("truecase")
    truecase.setup()
    vowels = data_config_module("vowels")
    vowels.setup()
    vowel_lengths = [len(x) for split in ("TRAIN", "TEST") for x in parse_ts(asset_text(f"JapaneseVowels_{split}.ts.xz"))[0]]
    sunspots = ForecastDataModule(train_files=shipped("sunspots"), columns=["sunspots"])
    sunspots.setup()
    adding, parity = AddingDataModule(), ParityDataModule()
    adding.setup()
    parity.setup()

    def sizes(dm, unit: str) -> str:
        return " / ".join(f"{n:,}" for n in split_sizes(dm)) + f" {unit}"

    plain = real_token_fraction(data_config_module("vowels", "bucket=false"))
    bucketed = real_token_fraction(data_config_module("vowels", "bucket=true"))
    datasets = markdown_table(
        ["dataset", "config", "task", "size", "splits (train / val / test)", "sequence length", "real tokens: plain / bucketed"],
        [
            [
                "Shakespeare, 38 plays",
                "`data=shakespeare`",
                f"language modelling, {shakespeare.facts.vocab_size} ids (chars + 2)",
                f"{len(text):,} chars",
                sizes(shakespeare, "windows") + " (90 / 5 / 5% of the text)",
                f"{shakespeare.seq_len} (fixed windows)",
                "100% / 100%",
            ],
            [
                "Truecase (Shakespeare lower-cased)",
                "`data=truecase`",
                "tagging per char: lower / upper",
                f"{len(text):,} chars",
                sizes(truecase, "windows") + " (90 / 5 / 5%)",
                f"{truecase.seq_len} (fixed windows)",
                "100% / 100%",
            ],
            [
                "Japanese Vowels (UCI)",
                "`data=vowels`",
                f"classification, {vowels.facts.num_outputs} speakers, {vowels.facts.num_features} features",
                "640 series",
                sizes(vowels, "series") + " (official 270 / 370; val from train)",
                lengths_summary(vowel_lengths),
                f"{plain:.1%} / {bucketed:.1%} (batch {vowels.batch_size})",
            ],
            [
                "Monthly sunspots 1749-2009",
                "`data=sunspots`",
                "one-step forecast (regression), 1 feature",
                f"{len(monthly_sunspots()[1]):,} months",
                sizes(sunspots, "windows") + " (targets: 70 / 10 / 20% of months)",
                f"{sunspots.window} (fixed windows)",
                "100% / 100%",
            ],
            [
                "Adding problem (synthetic)",
                "`data=adding`",
                "regression, 2 features",
                "generated",
                sizes(adding, "sequences"),
                f"{adding.seq_len} (fixed)",
                "100% / 100%",
            ],
            [
                "Parity (synthetic)",
                "`data=parity`",
                "classification, 2 classes (per_step: tagging)",
                "generated",
                sizes(parity, "sequences"),
                f"{parity.min_len}-{parity.seq_len}",
                "100% / 100% (set data.min_len to vary lengths)",
            ],
        ],
    )
    sun = sunspots_baselines()
    case = truecase_baselines()
    bits = shakespeare_unigram_bits()
    baselines = markdown_table(
        ["dataset", "baseline", "test score", "source"],
        [
            ["Shakespeare", "character frequencies (unigram, add-one)", f"{bits:.3f} bits/char ({bits * math.log(2):.3f} nats)", "computed here"],
            ["Shakespeare", *QUOTED_BASELINES["shakespeare_lstm"]],
            ["Truecase", f"always lower ({case['upper_share_test']:.1%} of test chars are upper case)", f"{case['always_lower']:.4f} accuracy", "computed here"],
            ["Truecase", "majority label per character", f"{case['char']:.4f} accuracy", "computed here"],
            ["Truecase", "majority per (previous, current) char: left context", f"{case['prev_char']:.4f} accuracy", "computed here"],
            ["Truecase", "majority per (previous, current, next) char: both sides", f"{case['prev_char_next']:.4f} accuracy", "computed here"],
            ["Japanese Vowels", *QUOTED_BASELINES["vowels_1nn_dtw"]],
            ["Japanese Vowels", *QUOTED_BASELINES["vowels_1nn_euclidean"]],
            ["Japanese Vowels", *QUOTED_BASELINES["vowels_published"]],
            ["Sunspots", f"persistence (next month = this month), {sun['test_months']} test months", f"{sun['persistence']:.2f} RMSE", "computed here"],
            ["Sunspots", "linear AR(24) + intercept, least squares on the training months", f"{sun['ar24_train']:.2f} RMSE", "computed here"],
            ["Sunspots", "linear AR(24) + intercept, least squares on train + val months", f"{sun['ar24_train_val']:.2f} RMSE", "computed here"],
            ["Adding", *QUOTED_BASELINES["adding_mean"]],
            ["Parity", *QUOTED_BASELINES["parity_chance"]],
        ],
    )
    notes = (
        "Real tokens: the share of the padded (batch x time) input cells that hold real steps in one "
        "training epoch, with a plain shuffle vs the length-bucketed sampler (`data.bucket`). "
        "RMSE is in sunspot numbers; accuracy is per character for Truecase."
    )
    return f"## Shipped datasets\n\n{datasets}\n\n## Baselines\n\n{baselines}\n\n{notes}\n"


def main(argv: list[str] | None = None) -> None:
    import argparse

    # No options: `--help` prints this, anything else is refused (both ran the whole report, the argument ignored).
    argparse.ArgumentParser(prog="data_report.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args(argv)
    print(report())


if __name__ == "__main__":
    main()
