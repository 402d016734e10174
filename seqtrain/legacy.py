"""Data configs and checkpoints that name a retired shipped-dataset class, translated to the generic loaders.

Before the shipped datasets became configs (`configs/data/*.yaml` over the generic loaders), each
had a class of its own. A checkpoint written then names that class in its config and keeps the
fitted state under the class's name; `upgrade` gives the data config and state that rebuild the
same data and encoders today, so such a checkpoint still evaluates, predicts and exports.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Upgrade = Callable[[dict[str, Any], dict[str, Any]], tuple[dict[str, Any], dict[str, Any]]]


def _sunspots(config: dict[str, Any], state: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    from seqtrain.shipped import shipped

    # Same arguments, same state layout (columns, shift, scale): only the file is named now.
    return {**config, "_target_": "seqtrain.data.ForecastDataModule", "train_files": shipped("sunspots"), "columns": ["sunspots"]}, state


def _vowels(config: dict[str, Any], state: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    from seqtrain.shipped import shipped

    table = {
        "_target_": "seqtrain.data.TableDataModule", "task": "classification",
        "train_files": shipped("vowels_train"), "test_files": shipped("vowels_test"),
        "sequence_column": "sequence", "target_column": "label", "sequence_kind": "vectors", "test_fraction": 0.1,
    }
    upgraded = {
        "facts": state["facts"], "sequence_kind": "vectors", "tokenizer": None,
        "class_names": list(state["facts"]["class_names"]), "num_features": state["facts"]["num_features"],
    }
    if "mean" in state:  # standardize=true: the statistics, under the table loader's names
        upgraded |= {"input_mean": state["mean"], "input_std": state["std"]}
    return {**table, **{k: v for k, v in config.items() if k != "_target_"}}, upgraded


def _text(**options: Any) -> Upgrade:
    """The upgrade of a retired class over the shipped text: the generic text loader with `options`."""

    def upgrade(config: dict[str, Any], state: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        from seqtrain.shipped import shipped

        # The same character vocabulary (the saved dict is a CharVocab's); the splits are now whole lines.
        text = {"_target_": "seqtrain.data.TextDataModule", "train_files": shipped("shakespeare"), "tokenizer": "char", **options}
        return {**text, **{k: v for k, v in config.items() if k != "_target_"}}, {"facts": state["facts"], "tokenizer": state["vocab"]}

    return upgrade


#: retired `_target_` -> (the config that replaces it, how a checkpoint's config and state are upgraded)
RETIRED: dict[str, tuple[str, Upgrade]] = {
    "seqtrain.data.SunspotsDataModule": ("data=sunspots (ForecastDataModule over the shipped series)", _sunspots),
    "seqtrain.data.ShakespeareDataModule": ("data=shakespeare (TextDataModule over the shipped text)", _text()),
    "seqtrain.data.TruecaseDataModule": ("data=truecase (TextDataModule over the shipped text, targets=case)", _text(targets="case")),
    "seqtrain.data.VowelsDataModule": ("data=vowels (TableDataModule over the shipped series)", _vowels),
}


def retired_message(key: str, target: str) -> str | None:
    """What to use instead of a retired `_target_`, or None when `target` is not retired."""
    if target not in RETIRED:
        return None
    return f"{key}._target_={target!r} was retired when the shipped datasets became configs; use {RETIRED[target][0]}"


def upgrade(data: dict[str, Any], checkpoint: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """A checkpoint's data config and its datamodule's state (None when the checkpoint holds none)."""
    target = data.get("_target_", "")
    name = target.rsplit(".", 1)[-1]
    state = checkpoint.get(name)
    if target in RETIRED and state is not None:
        return RETIRED[target][1](dict(data), dict(state))
    if name == "ForecastDataModule" and "time_column" not in data:  # saved before time columns: read the series as then
        return {**data, "time_column": None}, state
    return data, state
