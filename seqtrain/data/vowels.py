"""Speaker identification from the Japanese Vowels recordings (UCI; shipped, see assets/ATTRIBUTION.md)."""

from __future__ import annotations

import lzma
from importlib.resources import files
from typing import Any

import torch
from torch import Tensor

from seqtrain.data.datamodule import SequenceDataModule, Splits, check_fraction
from seqtrain.data.facts import DataFacts
from seqtrain.data.scaling import Standardizer

CLASS_NAMES = tuple(str(speaker) for speaker in range(1, 10))  # the labels as the .ts files write them
NUM_CHANNELS = 12  # LPC cepstrum coefficients per frame


def parse_ts(text: str) -> tuple[list[Tensor], list[str]]:
    """Series and labels from sktime `.ts` text.

    `#` lines are comments and `@` lines the header; every other non-blank line is one series,
    `dim1:dim2:...:label` with each dimension's values comma-separated. Returns (T, C) float32
    series and the label strings.
    """
    series: list[Tensor] = []
    labels: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line[0] in "#@":
            continue
        *dims, label = line.split(":")
        values = [[float(v) for v in dim.split(",")] for dim in dims]  # C lists of T values
        if len({len(v) for v in values}) != 1:
            raise ValueError(f"line {number}: dimensions of unequal length")
        series.append(torch.tensor(values, dtype=torch.float32).T.contiguous())  # (T, C)
        labels.append(label.strip())
    return series, labels


def load_japanese_vowels(split: str) -> tuple[list[Tensor], list[str]]:
    """The official "train" (270 series) or "test" (370) split: (T, 12) series, T in 7..29, labels "1".."9"."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    asset = files("seqtrain.data") / "assets" / f"JapaneseVowels_{split.upper()}.ts.xz"
    return parse_ts(lzma.decompress(asset.read_bytes()).decode("utf-8"))


class VowelsDataModule(SequenceDataModule):
    """Classify the speaker (9 classes) of a 12-channel series, on the official 270 / 370 split.

    Args:
        val_fraction: share of each speaker's training series held out for validation
            (stratified, drawn with `seed`).
        standardize: scale every channel to zero mean and unit variance, with statistics of the
            training part only (saved in `state_dict`, reused on load).
    """

    def __init__(self, batch_size: int = 32, val_fraction: float = 0.2, standardize: bool = True, **base: Any) -> None:
        super().__init__(batch_size=batch_size, **base)
        check_fraction("val_fraction", val_fraction)
        self.val_fraction = val_fraction
        self.standardize = standardize

    def build(self, saved: dict[str, Any] | None) -> Splits:
        train_series, train_labels = load_japanese_vowels("train")
        test_series, test_labels = load_japanese_vowels("test")
        val_ids = self._stratified_holdout(train_labels)
        train = [i for i in range(len(train_series)) if i not in val_ids]
        state: dict[str, Any] = {}
        if self.standardize:
            if saved is not None:
                scaler = Standardizer(saved["mean"], saved["std"])
            else:
                scaler = Standardizer.fit(torch.cat([train_series[i] for i in train]))  # over (sum of T, C) frames
            state = {"mean": scaler.shift, "std": scaler.scale}
            train_series = [scaler.encode(x) for x in train_series]
            test_series = [scaler.encode(x) for x in test_series]

        def examples(series: list[Tensor], labels: list[str], ids: list[int]) -> list[tuple[Tensor, Tensor]]:
            return [(series[i], torch.tensor(CLASS_NAMES.index(labels[i]))) for i in ids]  # ((T, 12), ())

        facts = DataFacts(
            task="classification",
            per_step=False,
            num_outputs=len(CLASS_NAMES),
            num_features=NUM_CHANNELS,
            class_names=CLASS_NAMES,
        )
        return Splits(
            train=examples(train_series, train_labels, train),
            val=examples(train_series, train_labels, sorted(val_ids)),
            test=examples(test_series, test_labels, list(range(len(test_series)))),
            facts=facts,
            state=state,
        )

    def _stratified_holdout(self, labels: list[str]) -> set[int]:
        """Indices of `val_fraction` of each class's series (rounded), drawn with `seed`."""
        generator = torch.Generator().manual_seed(self.seed)
        held_out: set[int] = set()
        for name in CLASS_NAMES:
            members = [i for i, label in enumerate(labels) if label == name]
            count = round(len(members) * self.val_fraction)
            held_out.update(members[j] for j in torch.randperm(len(members), generator=generator)[:count].tolist())
        return held_out
