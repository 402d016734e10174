"""TextDataModule: .txt and column sources, contiguous or given splits, tokenizers fitted on train and reloaded."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from user_files import corpus_lines, write_jsonl

from seqtrain.data import DataFacts, TextDataModule, tokenizer_from_dict


def make(tmp_path: Path, **kwargs) -> TextDataModule:
    dm = TextDataModule(**{"cache_dir": str(tmp_path / "hf_cache"), "seq_len": 8, "batch_size": 4, **kwargs})
    dm.setup()
    return dm


def all_ids(dm: TextDataModule, split: str) -> list[int]:
    windows = dm.split(split)
    return torch.cat([windows[0][0][:1], *(y for _, y in windows)]).tolist()  # (first input, every target)


@pytest.mark.parametrize("tokenizer", ["char", "word", "bpe", "unigram"])
def test_txt_files_split_contiguously_and_decode_back(tmp_path: Path, tokenizer: str) -> None:
    text = corpus_lines(200)
    path = tmp_path / "corpus.txt"
    path.write_text(text)
    kwargs = {"max_vocab_size": 300} if tokenizer in ("bpe", "unigram") else {}
    dm = make(tmp_path, train_files=str(path), tokenizer=tokenizer, val_fraction=0.1, test_fraction=0.1, **kwargs)
    size = len(dm.tokenizer)
    assert dm.facts == DataFacts("language_modeling", True, size, vocab_size=size, padding_idx=0)
    lines = text.splitlines(keepends=True)
    # val and test: the last 10% of the lines each, in order; the windows cover every token.
    for split, part in (("val", lines[160:180]), ("test", lines[180:])):
        assert dm.decode(all_ids(dm, split)) == "".join(part)
    assert dm.decode(dm.encode(lines[0])) == lines[0]
    inputs, targets = dm.split("train")[1]
    assert torch.equal(inputs[1:], targets[:-1])  # next-token targets


def test_val_and_test_score_every_token_their_last_window_shorter(tmp_path: Path) -> None:
    """A val / test text that is not a whole number of windows: its tail is a shorter window, not dropped
    (it was: a 233-character val file at seq_len=128 had 104 of its 232 targets never scored)."""
    import math

    from seqtrain.baselines import baselines

    (tmp_path / "train.txt").write_text(corpus_lines(100))
    val_text = "the cat sat on the mat\n" * 3  # 69 characters: 68 targets, 8 windows of 8 and one of 4
    (tmp_path / "val.txt").write_text(val_text)
    dm = make(tmp_path, train_files=str(tmp_path / "train.txt"), val_files=str(tmp_path / "val.txt"),
              test_files=str(tmp_path / "val.txt"))
    windows = dm.split("val")
    assert windows.lengths == [8] * 8 + [4]
    assert dm.decode(all_ids(dm, "val")) == val_text
    batch = list(dm.val_dataloader())[-1]  # 9 windows in batches of 4: the last holds the short one alone
    assert batch.lengths.tolist() == [4] and batch.targets.tolist() == [dm.encode(val_text)[-4:]]
    # The unigram baseline over the same 68 targets, by hand from the training characters' counts (add-one).
    train_ids = dm.split("train").targets()
    counts = torch.bincount(train_ids, minlength=len(dm.tokenizer)).double() + 1
    targets = dm.encode(val_text)[1:]
    loss = -sum(math.log(counts[t] / counts.sum()) for t in targets) / len(targets)
    assert baselines(dm, ("val",))["val"]["val/ppl"] == pytest.approx(math.exp(loss))
    assert len(dm.split("train").targets()) % 8 == 0  # training keeps whole windows only


def test_test_files_that_are_the_val_files_are_warned_of(tmp_path: Path, caplog) -> None:
    """The best checkpoint is picked on the validation text: as the test text, its metrics are optimistic (unsaid for
    text; tables warned)."""
    import logging

    (tmp_path / "train.txt").write_text(corpus_lines(100))
    (tmp_path / "val.txt").write_text(corpus_lines(20, seed=5))
    (tmp_path / "test.txt").write_text(corpus_lines(20, seed=6))
    with caplog.at_level(logging.WARNING, logger="seqtrain.data.text"):
        make(tmp_path, train_files=str(tmp_path / "train.txt"), val_files=str(tmp_path / "val.txt"), test_files=str(tmp_path / "val.txt"))
        assert [r.getMessage() for r in caplog.records] == [
            f"data: data.test_files is data.val_files ({tmp_path / 'val.txt'}): the best checkpoint (and early stopping) is "
            "picked on the test text, so its test metrics are optimistic; give test text of its own"]
        caplog.clear()
        make(tmp_path, train_files=str(tmp_path / "train.txt"), val_files=str(tmp_path / "val.txt"), test_files=str(tmp_path / "test.txt"))
        make(tmp_path, train_files=str(tmp_path / "train.txt"))  # both carved: different lines
        assert caplog.records == []


@pytest.mark.parametrize(("batch_size", "unscored"), [(8, 4), (4, 0), (40, 28)])
def test_stateful_streams_that_leave_text_unscored_or_are_shorter_than_a_chunk_are_warned_of(
    tmp_path: Path, caplog, batch_size: int, unscored: int
) -> None:
    """69 val characters as `batch_size` streams: the targets the loader serves, counted, against the warning's numbers
    (a validation split much smaller than the streams lost a fifth of its text, unsaid)."""
    import logging

    (tmp_path / "train.txt").write_text(corpus_lines(300))
    (tmp_path / "val.txt").write_text("the cat sat on the mat\n" * 3)
    (tmp_path / "test.txt").write_text(corpus_lines(300, seed=5))
    with caplog.at_level(logging.WARNING, logger="seqtrain.data.text"):
        dm = make(tmp_path, train_files=str(tmp_path / "train.txt"), val_files=str(tmp_path / "val.txt"),
                  test_files=str(tmp_path / "test.txt"), stateful=True, batch_size=batch_size)
    served = sum(int(batch.targets.numel()) for batch in dm.val_dataloader())
    assert served == 68 - unscored  # 69 tokens: 68 could be targets
    warned = [r.getMessage() for r in caplog.records if "the val split's 69 tokens" in r.getMessage()]
    if unscored == 0:
        assert warned == []  # 4 streams of 17: every token scored, each stream longer than a chunk of 8
    else:
        assert len(warned) == 1 and f"the last {unscored} (" in warned[0] and "lower data.batch_size" in warned[0]
        assert ("shorter than one chunk of data.seq_len=8" in warned[0]) == (batch_size == 40)  # 40 streams of 1


def test_tokenizer_settings_a_kind_does_not_use_and_a_unigram_of_single_characters_are_said(tmp_path: Path, caplog) -> None:
    """data.tokenizer=char kept every character whatever data.max_vocab_size / data.min_frequency said, Unigram took no
    min_frequency, and a Unigram fitted on little text held no piece longer than a character: all unsaid."""
    import logging

    from seqtrain.shipped import shipped

    text = corpus_lines(200)
    (tmp_path / "corpus.txt").write_text(text)

    def fitted(**kwargs) -> tuple[TextDataModule, list[str]]:
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="seqtrain.data.file_datamodule"):
            dm = make(tmp_path, train_files=str(tmp_path / "corpus.txt"), **kwargs)
        return dm, [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]

    dm, warned = fitted(tokenizer="char", max_vocab_size=5, min_frequency=1000)
    assert len(dm.tokenizer) == len(set("".join(text.splitlines(keepends=True)[:180]))) + 2 > 5  # every training character
    assert warned == ["data: data.max_vocab_size=5 (word, bpe, unigram) and data.min_frequency=1000 (word, bpe) not used: "
                      "data.tokenizer=char keeps every character of the training split"]
    dm, warned = fitted(tokenizer="unigram", max_vocab_size=2000, min_frequency=3)
    line = text.splitlines(keepends=True)[0]
    assert len(dm.encode(line)) >= 0.9 * len(line)  # about a token per character: (almost) no piece learned
    assert warned[0] == "data: data.min_frequency=3 (word, bpe) not used: data.tokenizer=unigram learns its pieces without a minimum frequency"
    assert warned[1].startswith("data: the unigram tokenizer cuts the training text into 0.9") and len(warned) == 2
    assert "(measured on its first 180 rows): it learned (almost) no piece longer than one byte" in warned[1]
    assert f"data: data.max_vocab_size=2000: the training split gave only {len(dm.tokenizer)} ids" in caplog.messages
    _, warned = fitted(tokenizer="bpe", max_vocab_size=300, min_frequency=3)
    assert warned == []
    lines = Path(shipped("shakespeare")).read_text().splitlines(keepends=True)[:300]
    (tmp_path / "corpus.txt").write_text("".join(lines))
    dm, warned = fitted(tokenizer="unigram", max_vocab_size=300)
    assert warned == [] and sum(len(dm.encode(t)) for t in lines) < 0.6 * len("".join(lines).encode())  # pieces learned


def test_given_files_and_a_text_column(tmp_path: Path) -> None:
    train = write_jsonl(tmp_path / "train.jsonl", [{"body": line, "id": i} for i, line in enumerate(corpus_lines(100).splitlines())])
    val = write_jsonl(tmp_path / "val.jsonl", [{"body": "the cat sat on the mat", "id": 0}] * 5)
    dm = make(tmp_path, train_files=str(train), val_files=str(val), test_files=str(val), text_column="body", tokenizer="word")
    assert dm.decode(all_ids(dm, "val")).startswith("the cat sat on the mat\nthe cat")  # rows joined by line breaks
    assert len(dm.split("test")) == len(dm.split("val"))


def test_several_files_by_glob_are_read_in_order(tmp_path: Path) -> None:
    for i in range(3):
        (tmp_path / f"part{i}.txt").write_text(f"file {i} line\n" * 10)
    dm = make(tmp_path, train_files=str(tmp_path / "part*.txt"), val_fraction=0.3, test_fraction=0.3)
    # 30 lines: train the first 12 (part0, 2 of part1), val the next 9, test the last 9 (all part2)
    assert dm.decode(all_ids(dm, "val")).startswith("file 1 line\n" * 8 + "file \ufffd")  # "2" unseen in train
    assert dm.decode(all_ids(dm, "test")).startswith("file \ufffd line\n" * 8)


def test_stateful_streams(tmp_path: Path) -> None:
    path = tmp_path / "corpus.txt"
    path.write_text(corpus_lines(300))
    dm = make(tmp_path, train_files=str(path), stateful=True)
    batches = list(dm.train_dataloader())
    assert all(b.stateful for b in batches) and batches[0].inputs.shape == (4, 8)
    assert torch.equal(batches[0].targets[:, -1], batches[1].inputs[:, 0])  # each row continues


def test_tokenizer_is_saved_and_reloaded_never_refitted(tmp_path: Path) -> None:
    path = tmp_path / "corpus.txt"
    path.write_text(corpus_lines(200))
    dm = make(tmp_path, train_files=str(path), tokenizer="bpe", max_vocab_size=300)
    state = dm.state_dict()
    assert state["tokenizer"]["kind"] == "bpe" and isinstance(state["tokenizer"]["json"], str)
    # Generation from a checkpoint: the tokenizer straight from the state, without reading the text.
    fresh = TextDataModule(train_files=str(tmp_path / "gone.txt"), tokenizer="bpe")
    fresh.load_state_dict(state)
    assert fresh.encode("the cat sat\n") == dm.encode("the cat sat\n")
    # Other training text with the saved state: the saved tokenizer is used as it is.
    other = tmp_path / "other.txt"
    other.write_text(corpus_lines(200, seed=9).upper())
    refit = TextDataModule(train_files=str(other), tokenizer="bpe", max_vocab_size=300, cache_dir=str(tmp_path / "hf_cache"), seq_len=8, batch_size=4)
    refit.load_state_dict(state)
    refit.setup()
    assert tokenizer_from_dict(refit.state_dict()["tokenizer"]) == dm.tokenizer
    wrong = TextDataModule(train_files=str(path), tokenizer="char")
    wrong.load_state_dict(state)
    with pytest.raises(ValueError, match="data.tokenizer='char', but the loaded state holds a 'bpe' tokenizer"):
        wrong.encode("x")


def test_encode_before_setup_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="setup"):
        TextDataModule().encode("x")


@pytest.mark.parametrize("documents", ["file", "row"])
def test_stateful_streams_reset_where_each_document_starts(tmp_path: Path, documents: str) -> None:
    """resets[r, t] is True exactly where the input token at (r, t) is the first of a file / of a line."""
    texts = ["alpha beta\ngamma\n", "delta\nepsilon zeta eta\n", "theta\n"]
    for i, text in enumerate(texts):
        (tmp_path / f"doc{i}.txt").write_text(text * 6)
    dm = TextDataModule(
        train_files=str(tmp_path / "doc*.txt"), val_files=str(tmp_path / "doc0.txt"), test_files=str(tmp_path / "doc1.txt"),
        cache_dir=str(tmp_path / "hf_cache"), seq_len=5, batch_size=2, stateful=True, documents=documents,
    )
    dm.setup()
    corpus = "".join(text * 6 for text in texts)
    if documents == "file":
        expected_starts = {0, len(texts[0]) * 6, len(texts[0] + texts[1]) * 6}
    else:
        expected_starts = {0, *(i + 1 for i, ch in enumerate(corpus[:-1]) if ch == "\n")}
    # Rebuild each input's position in the text from the stream layout (2 streams of L tokens).
    stream_len = (len(corpus) - 1) // 2
    flags: dict[int, bool] = {}
    for i, batch in enumerate(dm.train_dataloader()):
        assert batch.resets is not None and batch.resets.shape == batch.inputs.shape and batch.resets.dtype == torch.bool
        for r in range(2):
            for t in range(batch.inputs.shape[1]):
                position = r * stream_len + i * 5 + t
                assert dm.decode([int(batch.inputs[r, t])]) == corpus[position]
                flags[position] = bool(batch.resets[r, t])
    assert len(flags) == 2 * stream_len  # every input once
    assert {p for p, flag in flags.items() if flag} == {p for p in expected_starts if p < 2 * stream_len}


def test_documents_need_stateful_streams(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="documents='file'.*needs stateful=true"):
        TextDataModule(train_files=str(tmp_path / "x.txt"), documents="file")
    with pytest.raises(ValueError, match="documents must be 'file', 'row' or null"):
        TextDataModule(train_files=str(tmp_path / "x.txt"), stateful=True, documents="page")
