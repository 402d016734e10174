"""Your own text: local .txt files (or a text column of CSV / JSON Lines / Parquet / a hub dataset).

The targets are the next token (language modelling) or, with `targets="case"`, each character's case in
the lower-cased text (truecasing, a tagging task).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

import numpy as np
import torch
from torch.utils.data import DataLoader

from seqtrain.checks.arguments import check_positive, check_split_fractions
from seqtrain.data.datamodule import Split, Splits
from seqtrain.data.file_datamodule import FileDataModule, warn_unknown_tokens
from seqtrain.facts import DataFacts
from seqtrain.data.arrow import arrow_column, cached_map, flat_list_column, non_blank
from seqtrain.data.sources import DataError, Piece, check_columns
from seqtrain.data.splits import Origin, carve, concatenate
from seqtrain.encoders.tokenizer import Tokenizer, saved_tokenizer
from seqtrain.encoders.vocab import PAD
from seqtrain.data.windows import TaggedWindows, TokenStreams, TokenWindows

if TYPE_CHECKING:
    from datasets import Dataset

log = logging.getLogger(__name__)


CASE_CLASSES = ("lower", "upper")


class Tokens(NamedTuple):
    """One split's text as tokens: ids (N,) long, each token's case (N,) long or None, each row's offset (rows + 1,)."""

    ids: torch.Tensor
    cases: torch.Tensor | None
    offsets: np.ndarray


class TextDataModule(FileDataModule):
    """Next-token prediction (or truecasing) on text files, with a char / word / BPE / Unigram tokenizer fitted on the training split.

    Each split's rows (the lines of .txt files, or the values of `text_column`) are joined in
    order, with a line break after each row that lacks one, into one token sequence, served as
    windows of `seq_len` or, with `stateful`, as contiguous streams (see `TokenStreams`).
    With `documents`, the streams also mark where each document starts, and the model's state is
    reset there (see `seqtrain.task.run_with_resets`).

    Args:
        train_files / val_files / test_files / hub / hub_config / file_format / cache_dir: where the
            text is (`FileDataModule`; file_format auto | text | csv | json | parquet); val / test
            are the last `val_fraction` / `test_fraction` of the training rows (contiguous) when not given.
        text_column: the column holding text (.txt files have "text").
        tokenizer / max_vocab_size / min_frequency: how the text is tokenized (`FileDataModule`).
        documents: with `stateful`, where documents start, so the carried state is reset there:
            "file" (each file, or hub split, is a document), "row" (each row: a line of a .txt
            file, a value of `text_column`), or None (the text is one running document).
        max_chars: read only the leading training rows that hold at most this many characters
            (at least one row), before val / test are carved from them: quick runs and tests.
        targets: "next_token" (language modelling) or "case": the inputs are the text lower-cased,
            the targets 1 where a character was upper case (tagging; windows of `seq_len`
            characters; the char tokenizer, fitted on the lower-cased text).
    """

    file_formats = ("auto", "text", "csv", "json", "parquet")
    text_options = {"keep_linebreaks": True}  # a .txt row is a line, with its line break

    def __init__(
        self,
        text_column: str = "text",
        seq_len: int = 128,
        batch_size: int = 64,
        stateful: bool = False,
        val_fraction: float = 0.05,
        test_fraction: float = 0.05,
        documents: Literal["file", "row"] | None = None,
        max_chars: int | None = None,
        targets: Literal["next_token", "case"] = "next_token",
        **base: Any,
    ) -> None:
        super().__init__(batch_size=batch_size, **base)
        if targets not in ("next_token", "case"):
            raise ValueError(f"targets must be 'next_token' or 'case', got {targets!r}")
        if targets == "case" and (self.tokenizer_kind != "char" or stateful):
            raise ValueError(
                f"targets='case' tags each character of independent windows: it needs tokenizer='char' and "
                f"stateful=false (got tokenizer={self.tokenizer_kind!r}, stateful={stateful})"
            )
        check_positive(seq_len=seq_len)
        check_split_fractions(val_fraction, test_fraction)
        if documents not in (None, "file", "row"):
            raise ValueError(f"documents must be 'file', 'row' or null, got {documents!r}")
        if documents is not None and not stateful:
            raise ValueError(
                f"documents={documents!r} resets the state carried across stateful streams; it needs stateful=true "
                "(independent windows start from a zero state anyway)"
            )
        if max_chars is not None and max_chars < 1:
            raise ValueError(f"max_chars must be >= 1 or None, got {max_chars}")
        self.text_column, self.seq_len, self.stateful = text_column, seq_len, stateful
        self.documents, self.max_chars, self.targets = documents, max_chars, targets
        self.val_fraction, self.test_fraction = val_fraction, test_fraction

    def build(self, saved: dict[str, Any] | None) -> Splits:
        pieces, _ = self.load()
        val_names, test_names = ([p.name for p in pieces[split]] for split in ("val", "test"))
        if val_names and val_names == test_names:
            log.warning("data: data.test_files is data.val_files (%s): the best checkpoint (and early stopping) is picked on "
                        "the test text, so its test metrics are optimistic; give test text of its own", ", ".join(val_names))
        splits = {name: self.texts(ps) for name, ps in pieces.items() if ps}
        if self.max_chars is not None:
            splits["train"] = leading_rows(*splits["train"], self.text_column, self.max_chars)
        fractions = {name: getattr(self, f"{name}_fraction") for name in ("val", "test") if name not in splits}
        if fractions:
            splits.update(carve(*splits.pop("train"), fractions, shuffle=False, seed=self.seed))
        if saved is None:
            train = splits["train"][0]
            texts = (self.inputs_of(t) for batch in train.iter(batch_size=1000) for t in batch[self.text_column])
            self.tokenizer = self.fit_tokenizer(texts, len(train))
        else:
            self.tokenizer = saved_tokenizer(saved["tokenizer"], self.tokenizer_kind)
        examples, counts, encoded = {}, [], {}
        for name, (dataset, origin) in splits.items():
            tokens = self.encode_split(dataset, origin, name)
            encoded[name] = (tokens.ids, origin.names())
            if len(tokens.ids) < self.tokens_needed:
                raise DataError(
                    f"the {name} split has {len(tokens.ids)} tokens, fewer than the {self.tokens_needed} {self.needed_for} "
                    f"(from {origin.names()}); lower {'data.batch_size' if self.stateful else 'data.seq_len'}, or give more text"
                )
            examples[name] = self.layout(tokens, origin, name)
            counts.append(f"{name} {len(tokens.ids):,}")
            if self.stateful:
                warn_short_streams(len(tokens.ids), self.batch_size, self.seq_len, name, origin.names())
        log.info("data: tokens per split: %s", ", ".join(counts))
        for name, (ids, where) in encoded.items():
            warn_unknown_tokens(ids, name, where, encoded["train"][0], self.tokenizer_kind)
        vocab_size = len(self.tokenizer)
        if self.targets == "case":
            facts = DataFacts("tagging", True, len(CASE_CLASSES), vocab_size=vocab_size, padding_idx=PAD, class_names=CASE_CLASSES)
        else:
            facts = DataFacts(task="language_modeling", per_step=True, num_outputs=vocab_size, vocab_size=vocab_size, padding_idx=PAD)
        return Splits(examples["train"], examples["val"], examples["test"], facts, {"tokenizer": self.tokenizer.to_dict()})

    # -- reading text: training's splits and new text for a trained model alike ------------------

    def texts(self, pieces: list[Piece]) -> tuple[Dataset, Origin]:
        import pyarrow.compute as pc

        for piece in pieces:
            check_columns(piece, {"text_column": self.text_column})
            dtype = getattr(piece.dataset.features[self.text_column], "dtype", None)
            if dtype not in ("string", "large_string"):
                raise DataError(f"{piece.name}: column {self.text_column!r} (data.text_column) holds {dtype or 'lists'}, "
                                "not text")
            values = arrow_column(piece.dataset, self.text_column)
            if not pc.any(non_blank(values)).as_py():
                raise DataError(f"{piece.name}: column {self.text_column!r} holds only whitespace or empty values "
                                f"({len(values)} rows): no text to learn from")
        return concatenate([replace(p, dataset=p.dataset.select_columns([self.text_column])) for p in pieces])

    @property
    def tokens_needed(self) -> int:
        """Tokens a split needs for one batch: a window and its next token, or one token per stream and one more."""
        return self.batch_size + 1 if self.stateful else self.seq_len + (self.targets == "next_token")

    @property
    def needed_for(self) -> str:
        """What `tokens_needed` buys, for messages."""
        if self.stateful:
            return f"one token for each of data.batch_size={self.batch_size} streams and one more need"
        return f"one window of data.seq_len={self.seq_len}{' and its next token' if self.targets == 'next_token' else ''} needs"

    def encode_split(self, dataset: Dataset, origin: Origin, split: str) -> Tokens:
        """The rows' token ids, (N,) long, through a cached `Dataset.map`; with targets="case" each token's
        case, (N,) long (else None); and each row's offset into them."""
        from datasets import Features, List, Value

        tokenizer = self._fitted_tokenizer()
        columns = {"ids": List(Value("int32"))} | ({"cases": List(Value("int8"))} if self.targets == "case" else {})
        settings = {"column": self.text_column, "tokenizer": tokenizer.to_dict(), "targets": self.targets}
        encoded = cached_map(dataset, encode_texts, settings=settings, features=Features(columns), desc=f"seqtrain: encoding the {split} split",
                             fn_kwargs={"column": self.text_column, "tokenizer": tokenizer, "where": origin.where, "cases": self.targets == "case"})
        values, offsets = flat_list_column(encoded, "ids")
        cases = torch.from_numpy(flat_list_column(encoded, "cases")[0].astype(np.int64)) if self.targets == "case" else None
        return Tokens(torch.from_numpy(values.astype(np.int64)), cases, offsets)

    def layout(self, tokens: Tokens, origin: Origin, split: str) -> Any:
        """A split as its loader serves it: tagged windows (case), windows of `seq_len`, or (ids, document starts) for streams."""
        keep_last = split != "train"  # val / test: every token scored, the last window shorter
        if self.targets == "case":
            return TaggedWindows(tokens.ids, tokens.cases, self.seq_len, keep_last=keep_last)
        if not self.stateful:
            return TokenWindows(tokens.ids, self.seq_len, keep_last=keep_last)
        return tokens.ids, None if self.documents is None else self.document_starts(tokens.offsets, origin, split)

    def inputs_of(self, text: str) -> str:
        """A row as the tokenizer reads it: ending in a line break, lower-cased when the targets are its case."""
        text = with_line_break(text)
        return lower_with_labels(text)[0] if self.targets == "case" else text

    def document_starts(self, offsets: np.ndarray, origin: Origin, split: str) -> torch.Tensor:
        """(N,) bool over the split's tokens: True at the first token of each document."""
        row_starts = offsets[:-1]
        if self.documents == "file":
            row_starts = row_starts[origin.first_rows(len(row_starts))]
        starts = torch.zeros(int(offsets[-1]), dtype=torch.bool)
        starts[torch.from_numpy(row_starts[row_starts < offsets[-1]])] = True
        log.info("data: the %s split has %d document starts in %d tokens; the state is reset at each",
                 split, int(starts.sum()), len(starts))
        return starts

    def dataloader(self, split: Split) -> DataLoader:
        if not self.stateful:
            return super().dataloader(split)
        # Stateful streams: `batch_size` contiguous rows per rank, in order; `starts` resets the state where a document
        # starts. An IterableDataset, so Lightning injects no DistributedSampler that would deal chunks out to ranks.
        # Lightning warns that its __len__ may be wrong with several workers; these streams deal chunk i to worker
        # i % W (tested), so the length holds: silence that one warning.
        warnings.filterwarnings("ignore", message=r"Your `IterableDataset` has `__len__` defined")
        ids, starts = self.split(split)
        num_replicas, rank = (1, 0) if self.trainer is None else (self.trainer.world_size, self.trainer.global_rank)
        return self.loader(TokenStreams(ids, self.batch_size, self.seq_len, starts=starts, num_replicas=num_replicas, rank=rank),
                           batch_size=None)

    def encode(self, text: str) -> list[int]:
        """Token ids under the fitted tokenizer (after `setup`, or straight after `load_state_dict`)."""
        return self._fitted_tokenizer().encode(text)

    def decode(self, ids: Iterable[int]) -> str:
        return self._fitted_tokenizer().decode(ids)

    def _fitted_tokenizer(self) -> Tokenizer:
        if self.tokenizer is None and self._saved_state is not None:
            # Generation from a checkpoint needs only the tokenizer, not the text loaded and encoded.
            self.tokenizer = saved_tokenizer(self._saved_state["tokenizer"], self.tokenizer_kind)
        if self.tokenizer is None:
            raise RuntimeError("call TextDataModule.setup() or load_state_dict() before encode/decode")
        return self.tokenizer


#: Stateful streams: the share of a split's tokens left unread at its end that is worth a warning.
UNREAD_SHARE = 0.01


def warn_short_streams(tokens: int, batch_size: int, seq_len: int, split: str, where: str) -> None:
    """Warn when `batch_size` streams (`TokenStreams`, on one device) make a split's streams shorter than one chunk of
    `seq_len` (its tokens predicted from little context) or leave over `UNREAD_SHARE` of its tokens unscored at the end."""
    stream_len = (tokens - 1) // batch_size
    unscored = tokens - batch_size * stream_len - 1  # after the last stream's last target (the first token is no target)
    if stream_len >= seq_len and unscored <= UNREAD_SHARE * tokens:
        return
    short = stream_len < seq_len
    log.warning(
        "data: the %s split's %d tokens (from %s) as data.batch_size=%d stateful streams are %d token(s) each%s; "
        "the last %d (%.0f%%) are never scored: lower data.batch_size (or give more text)",
        split, tokens, where, batch_size, stream_len,
        f", shorter than one chunk of data.seq_len={seq_len}: each is predicted from at most {stream_len - 1} before it" if short else "",
        unscored, 100 * unscored / tokens,
    )


def leading_rows(dataset: Dataset, origin: Origin, column: str, max_chars: int) -> tuple[Dataset, Origin]:
    """The first rows of `dataset` holding at most `max_chars` characters in all (at least one row)."""
    import pyarrow.compute as pc

    lengths = pc.fill_null(pc.utf8_length(arrow_column(dataset, column)), 0).to_numpy(zero_copy_only=False)  # (rows,)
    count = max(1, int(np.searchsorted(np.cumsum(lengths), max_chars, side="right")))
    log.info("data: data.max_chars=%d: reading the first %d of %d training rows", max_chars, count, len(dataset))
    return dataset.select(range(count)), origin.select(np.arange(count))


def with_line_break(text: str) -> str:
    return text if text.endswith("\n") else text + "\n"


def lower_with_labels(text: str) -> tuple[str, np.ndarray]:
    """The text lower-cased character by character, and (len,) int64 labels: 1 where the character was upper case.

    A character whose lower case is not one character (e.g. "İ") is kept as it is.
    """
    lowered = "".join(c.lower() if len(c.lower()) == 1 else c for c in text) if len(text.lower()) != len(text) else text.lower()
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    lowered_codes = np.frombuffer(lowered.encode("utf-32-le"), dtype=np.uint32)
    return lowered, (codes != lowered_codes).astype(np.int64)


def encode_texts(
    batch: dict[str, list], indices: list[int], *, column: str, tokenizer: Tokenizer, where: Any, cases: bool = False
) -> dict[str, list]:
    """Token ids of one batch of rows, each ending in a line break (lower-cased, with each character's case,
    when `cases`); an empty value is an error."""
    texts = batch[column]
    for text, i in zip(texts, indices):
        if text is None:
            raise DataError(f"{where(i)}, column {column!r}: an empty value (no text)")
    texts = [with_line_break(t) for t in texts]
    if not cases:
        return {"ids": tokenizer.encode_batch(texts)}
    lowered = [lower_with_labels(t) for t in texts]
    return {"ids": tokenizer.encode_batch([low for low, _ in lowered]), "cases": [labels.tolist() for _, labels in lowered]}
