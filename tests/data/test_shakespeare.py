"""data=shakespeare (the text loader over the shipped plays): contiguous splits, vocabulary from train only,
windows, stateful stream layout, saved vocab."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest
import torch

from seqtrain.data import CharVocab, DataFacts, TextDataModule
from seqtrain.shipped import asset_text, data_config_module
from seqtrain.data.windows import TokenStreams

MAX_CHARS = 20_000
ShakespeareDataModule = partial(data_config_module, "shakespeare")


def load_shakespeare() -> str:
    return asset_text("shakespeare.txt.xz")


def split_texts(text: str, val_fraction: float = 0.05, test_fraction: float = 0.05, max_chars: int | None = None) -> dict[str, str]:
    """The split as the text loader documents it: the leading lines within max_chars, val and test the last lines."""
    lines = text.splitlines(keepends=True)
    if max_chars is not None:
        total, kept = 0, 0
        while kept < len(lines) and total + len(lines[kept]) <= max_chars:
            total, kept = total + len(lines[kept]), kept + 1
        lines = lines[: max(kept, 1)]
    n = len(lines)
    val_start, test_start = n - int(n * val_fraction) - int(n * test_fraction), n - int(n * test_fraction)
    return {"train": "".join(lines[:val_start]), "val": "".join(lines[val_start:test_start]), "test": "".join(lines[test_start:])}


def test_shipped_text_and_facts() -> None:
    text = load_shakespeare()
    assert 4_500_000 < len(text) < 5_000_000
    assert text.startswith("THESEUS:\nNow, fair Hippolyta, our nuptial hour\n")
    assert not set("*_#[]\\") & set(text)  # no Markdown left
    dm = ShakespeareDataModule(stateful=False)
    assert type(dm) is TextDataModule
    dm.setup("fit")
    vocab_size = len(set(split_texts(text)["train"])) + 2
    assert dm.facts == DataFacts(
        task="language_modeling", per_step=True, num_outputs=vocab_size, vocab_size=vocab_size, padding_idx=0
    )


def test_vocab_is_fitted_on_train_only(tmp_path: Path) -> None:
    text = "abcab\n" * 17 + "abcxyzabca\n" + "bzcab\n" + "abcab\n"  # 20 lines: "x", "y", "z" only in val/test
    (tmp_path / "plays.txt").write_text(text)
    dm = ShakespeareDataModule(train_files=str(tmp_path / "plays.txt"), seq_len=3, batch_size=2, val_fraction=0.1, test_fraction=0.05, stateful=False)
    dm.setup()
    parts = split_texts(text, 0.1, 0.05)
    assert "x" in parts["val"] + parts["test"] and "x" not in parts["train"]
    assert dm.tokenizer.chars == ["\n", "a", "b", "c"]
    assert dm.encode("axz") == [dm.encode("a")[0], CharVocab.unk_id, CharVocab.unk_id]
    val_inputs = torch.cat([x for x, _ in dm.split("val")])
    assert (val_inputs == CharVocab.unk_id).any()


def test_windows_are_consecutive_and_shifted() -> None:
    dm = ShakespeareDataModule(seq_len=32, max_chars=MAX_CHARS, stateful=False, batch_size=64)
    dm.setup()
    ids = dm.encode(split_texts(load_shakespeare(), max_chars=MAX_CHARS)["train"])
    windows = dm.split("train")
    assert len(windows) == (len(ids) - 1) // 32
    for i in (0, 1, len(windows) - 1):
        inputs, targets = windows[i]
        assert inputs.tolist() == ids[i * 32 : (i + 1) * 32]
        assert targets.tolist() == ids[i * 32 + 1 : (i + 1) * 32 + 1]
    batches = list(dm.train_dataloader())
    assert not any(b.stateful for b in batches) and max(b.inputs.shape for b in batches) == (64, 32)
    first_inputs = torch.cat([b.inputs for b in batches])
    assert sorted(map(tuple, first_inputs.tolist())) == sorted(tuple(w[0].tolist()) for w in windows)  # all, once
    assert not torch.equal(first_inputs[:8], torch.stack([windows[i][0] for i in range(8)]))  # shuffled


def test_stateful_streams_with_worker_processes_keep_their_order_and_length() -> None:
    """Two workers deal the chunks out by index; the loader yields them in order, len() batches in all."""
    def batches(workers: int) -> list:
        dm = ShakespeareDataModule(seq_len=50, batch_size=4, stateful=True, max_chars=MAX_CHARS, num_workers=workers)
        dm.setup()
        loader = dm.train_dataloader()
        return len(loader), list(loader)

    (length, serial), (parallel_length, parallel) = batches(0), batches(2)
    assert length == parallel_length == len(serial) == len(parallel)
    assert all(torch.equal(a.inputs, b.inputs) and torch.equal(a.targets, b.targets) for a, b in zip(serial, parallel))


def test_stateful_layout_continues_rows_and_uses_every_token_once() -> None:
    batch_size, seq_len = 4, 50
    dm = ShakespeareDataModule(seq_len=seq_len, batch_size=batch_size, stateful=True, max_chars=MAX_CHARS)
    dm.setup()
    raw = dm.encode(split_texts(load_shakespeare(), max_chars=MAX_CHARS)["train"])
    stream_len = (len(raw) - 1) // batch_size
    batches = list(dm.train_dataloader())
    assert len(batches) == -(-stream_len // seq_len) and all(b.stateful for b in batches)
    assert batches[-1].inputs.shape[1] == stream_len - (len(batches) - 1) * seq_len  # the short last chunk is kept
    for i, batch in enumerate(batches):
        assert (batch.lengths == batch.inputs.shape[1]).all()
        for r in range(batch_size):
            start = r * stream_len + i * seq_len  # where row r of batch i starts in the raw text
            assert batch.inputs[r].tolist() == raw[start : start + batch.inputs.shape[1]]
            assert batch.targets[r].tolist() == raw[start + 1 : start + 1 + batch.inputs.shape[1]]
            if i > 0:  # the row continues the same row of the previous batch
                assert batches[i - 1].inputs[r, -1].item() == raw[start - 1]
                assert batches[i - 1].targets[r, -1].item() == batch.inputs[r, 0].item()
    rows = torch.cat([b.inputs for b in batches], dim=1)  # (B, stream_len)
    assert rows.flatten().tolist() == raw[: batch_size * stream_len]  # every token once, in order
    assert len(raw) - batch_size * stream_len == 1 + (len(raw) - 1) % batch_size  # the documented remainder
    again = list(dm.train_dataloader())
    assert all(torch.equal(a.inputs, b.inputs) for a, b in zip(batches, again))  # never shuffled


def test_streams_per_rank_partition_the_streams() -> None:
    ids = torch.arange(1001)
    single = TokenStreams(ids, batch_size=4, seq_len=7)
    ranks = [TokenStreams(ids, batch_size=2, seq_len=7, num_replicas=2, rank=r) for r in (0, 1)]
    assert len(ranks[0]) == len(ranks[1]) == len(single)  # every rank runs the same number of steps
    for a, b0, b1 in zip(single, *ranks):
        assert torch.equal(a.inputs, torch.cat([b0.inputs, b1.inputs]))
        assert torch.equal(a.targets, torch.cat([b0.targets, b1.targets]))


def test_state_dict_gives_a_fresh_datamodule_the_same_vocab(monkeypatch: pytest.MonkeyPatch) -> None:
    dm = ShakespeareDataModule(seq_len=16, max_chars=MAX_CHARS)
    dm.setup()
    state = dm.state_dict()
    assert set(state) == {"facts", "tokenizer"} and state["tokenizer"]["kind"] == "char"
    fresh = ShakespeareDataModule(seq_len=16, max_chars=MAX_CHARS)
    fresh.load_state_dict(state)
    probe = "Now, fair Hippolyta! Zounds~"
    assert fresh.encode(probe) == dm.encode(probe)  # generation needs no setup
    fitted = []
    monkeypatch.setattr("seqtrain.data.file_datamodule.fit_tokenizer", lambda *a, **kw: fitted.append(a))
    fresh.setup()
    assert not fitted  # the saved vocabulary was used, nothing was refitted
    assert fresh.encode(probe) == dm.encode(probe)
    assert fresh.decode(fresh.encode("the king")) == "the king"


def test_bad_arguments_name_the_argument() -> None:
    for kwargs, name in [
        ({"seq_len": 0}, "seq_len"),
        ({"val_fraction": 0.0}, "val_fraction"),
        ({"test_fraction": 1.0}, "test_fraction"),
        ({"val_fraction": 0.6, "test_fraction": 0.5}, "val_fraction \\+ test_fraction"),
        ({"max_chars": 0}, "max_chars"),
        ({"batch_size": 0}, "batch_size"),
    ]:
        with pytest.raises(Exception, match=name):  # ValueError, raised through Hydra's instantiate
            ShakespeareDataModule(**kwargs)
    with pytest.raises(ValueError, match="val split"):
        ShakespeareDataModule(seq_len=200, max_chars=2000, stateful=False).setup()
