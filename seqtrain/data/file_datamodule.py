"""The base of the datamodules that read users' files or a hub dataset: where the data is and how its text is
tokenized, said once."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any, ClassVar

from seqtrain.checks.arguments import check_hub_config
from seqtrain.data.datamodule import SequenceDataModule
from seqtrain.data.sources import FileFormat, Piece, load_pieces
from seqtrain.encoders.tokenizer import Tokenizer, TokenizerKind, check_tokenizer_options, fit_tokenizer
from seqtrain.encoders.vocab import SPECIALS, UNK, whitespace
from seqtrain.errors import DataError

log = logging.getLogger(__name__)
# Below this share of whitespace characters, text is not written as words separated by spaces (English: ~0.15-0.18;
# Chinese reviews: ~0.006); the table recipe's `recipe.text_by_spacing.spaced_share` draws the same line.
UNSPACED_SHARE = 0.05
# Over this share of the training tokens left out of a word vocabulary (as <unk>), the run warns.
MOSTLY_UNKNOWN = 0.5
#: A fitted Unigram tokenizer that cuts its training text into at least this many tokens per byte is warned of (it
#: learned almost no pieces), measured on the first UNIGRAM_SAMPLE training texts. Shakespeare at 1,000 pieces: 0.43.
BYTE_BY_BYTE = 0.9
UNIGRAM_SAMPLE = 1000


def warn_unknown_tokens(ids: Any, split: str, where: str, train_ids: Any, kind: str) -> None:
    """Warn when most of a val / test split's token ids (a tensor) are <unk> and the training split's are not: text
    unlike the training text (another language or script), whose metrics would measure predicting <unk>, not the text.

    kind: the tokenizer's; a char, bpe or unigram tokenizer gives <unk> only for a character the training text never
    holds. A word vocabulary's <unk> is any word unseen in training, common in a small corpus: not checked.
    """
    if kind == "word" or split == "train" or len(ids) == 0 or len(train_ids) == 0:
        return
    share = float((ids == UNK).float().mean())
    if share > MOSTLY_UNKNOWN >= float((train_ids == UNK).float().mean()):  # else `check_vocabulary` has said so
        log.warning("data: %.0f%% of the %s split's tokens (%s) are <unk>: characters the training text never holds "
                    "(another language or script?); its metrics would measure predicting <unk>, not the text; give %s "
                    "text like the training text", 100 * share, split, where, split)


class FileDataModule(SequenceDataModule):
    """Splits from local files or a hub dataset, text tokenized as fitted on the training split (`TableDataModule`,
    `TextDataModule`).

    Args:
        train_files / val_files / test_files: a path, glob or list of them; val / test are carved
            from train when not given (how: the subclass says).
        hub / hub_config: a HuggingFace hub dataset (or a local dataset folder) instead of files;
            its train / validation / test splits are used where present.
        file_format: auto (from the extension) or one of the subclass's `file_formats`.
        cache_dir: where datasets caches the loaded and encoded files (None: its default).
        tokenizer: char | word (whitespace-separated words; line breaks kept) | bpe | unigram
            (byte-level subwords trained with `tokenizers`).
        max_vocab_size: at most this many ids, specials included (word: the most frequent words;
            bpe/unigram: the size trained to, 1000 when null; char: ignored).
        min_frequency: words (word) or merges (bpe) seen fewer times are left out.
    """

    file_formats: ClassVar[tuple[str, ...]]  # "auto" and the builders the subclass reads
    text_options: ClassVar[dict[str, Any]] = {}  # options of the `text` builder, for .txt files
    headerless_layouts: ClassVar[bool] = False  # sniff the UCR archive's and CoNLL's headerless layouts (`load_pieces`)

    def __init__(
        self,
        train_files: str | list[str] | None = None,
        val_files: str | list[str] | None = None,
        test_files: str | list[str] | None = None,
        hub: str | None = None,
        hub_config: str | None = None,
        file_format: FileFormat = "auto",
        cache_dir: str | None = None,
        tokenizer: TokenizerKind = "char",
        max_vocab_size: int | None = None,
        min_frequency: int = 1,
        **base: Any,
    ) -> None:
        super().__init__(**base)
        if file_format not in self.file_formats:
            raise ValueError(f"file_format must be one of {list(self.file_formats)}, got {file_format!r}")
        check_hub_config(hub, hub_config)
        check_tokenizer_options(tokenizer, max_vocab_size, min_frequency)
        self.train_files, self.val_files, self.test_files = train_files, val_files, test_files
        self.hub, self.hub_config, self.file_format = hub, hub_config, file_format
        self.cache_dir = cache_dir
        self.tokenizer_kind = tokenizer
        self.max_vocab_size, self.min_frequency = max_vocab_size, min_frequency
        self.tokenizer: Tokenizer | None = None

    def load(self) -> tuple[dict[str, list[Piece]], set[str]]:
        """The pieces of each split (val / test empty where they are to be carved from train), and the splits
        given the training files (said in a warning: their metrics would measure memory)."""
        pieces = load_pieces(self.train_files, self.val_files, self.test_files, self.hub, self.hub_config, self.file_format,
                             self.cache_dir, self.text_options, self.headerless_layouts)
        names = {split: [p.name for p in split_pieces] for split, split_pieces in pieces.items()}
        same = [split for split in ("val", "test") if names[split] and names[split] == names["train"]]
        for split in same:
            log.warning("data: data.%s_files is data.train_files: %s metrics will measure memory, not generalization", split, split)
        said = []
        for split in ("val", "test"):
            if pieces[split]:
                source = "the hub dataset's own" if self.hub else f"data.{split}_files"
                said.append(f"the {split} split is {source} ({split}_fraction not used)")
            elif getattr(self, f"{split}_fraction") == 0:  # data=table's val_fraction=0
                said.append(f"no {split} split (data.{split}_fraction=0)")
            else:
                said.append(f"the {split} split is carved from the training data (data.{split}_fraction={getattr(self, split + '_fraction')})")
        log.info("data: %s", "; ".join(said))
        return pieces, set(same)

    def fit_tokenizer(self, texts: Iterable[str], length: int, kind: TokenizerKind | None = None) -> Tokenizer:
        """A tokenizer of `kind` (None: data.tokenizer) fitted on the training split's `length` texts, said in the log;
        a word tokenizer on text that has almost no whitespace to split at (Chinese, Japanese) gets a warning."""
        kind = kind or self.tokenizer_kind
        counts = {"characters": 0, "whitespace": 0}
        sample: list[str] = []  # unigram: the first texts, to measure how finely the fitted tokenizer cuts them

        def counted(texts: Iterable[str]) -> Iterable[str]:
            for text in texts:
                if kind == "unigram" and len(sample) < UNIGRAM_SAMPLE and isinstance(text, str):
                    sample.append(text)
                if kind == "word" and isinstance(text, str):  # lists of tokens are already split
                    counts["characters"] += len(text)
                    counts["whitespace"] += whitespace(text)
                yield text

        tokenizer = fit_tokenizer(kind, counted(texts) if kind in ("word", "unigram") else texts,
                                  max_vocab_size=self.max_vocab_size, min_frequency=self.min_frequency, length=length)
        log.info("data: fitted a %s tokenizer on the training split: %d ids", kind, len(tokenizer))
        if unused := self.unused_limits(kind):
            log.warning("data: %s", unused)
        if kind != "char" and self.max_vocab_size is not None and len(tokenizer) < self.max_vocab_size:
            log.info("data: data.max_vocab_size=%d: the training split gave only %d ids", self.max_vocab_size, len(tokenizer))
        size = sum(len(text.encode()) for text in sample)  # UTF-8 bytes, what the byte-level pieces are made of
        per_byte = sum(map(len, tokenizer.encode_batch(sample))) / size if size else 0.0
        if per_byte >= BYTE_BY_BYTE:
            log.warning("data: the unigram tokenizer cuts the training text into %.2f tokens per byte (measured on its first "
                        "%d rows): it learned (almost) no piece longer than one byte from it (the Unigram trainer on little "
                        "or repetitive text), so it reads the text about a character at a time, as data.tokenizer=char "
                        "does; data.tokenizer=bpe learns merges from such text", per_byte, len(sample))
        self.check_vocabulary(tokenizer, kind)
        share = counts["whitespace"] / max(1, counts["characters"])
        if counts["characters"] and share < UNSPACED_SHARE:
            log.warning(
                "data: data.tokenizer=word splits text at whitespace, but only %.1f%% of the training characters are "
                "whitespace (running text, such as Chinese or Japanese?): its 'words' are whole phrases, most seen once; "
                "data.tokenizer=char or unigram reads such text", 100 * share,
            )
        return tokenizer

    def unused_limits(self, kind: TokenizerKind) -> str:
        """What the tokenizer settings that `kind` does not use are ('' when none is set): a char vocabulary keeps
        every character, the Unigram trainer has no minimum frequency."""
        unused = [f"data.max_vocab_size={self.max_vocab_size} (word, bpe, unigram)"] if kind == "char" and self.max_vocab_size is not None else []
        if kind in ("char", "unigram") and self.min_frequency != 1:
            unused.append(f"data.min_frequency={self.min_frequency} (word, bpe)")
        if not unused:
            return ""
        keeps = "keeps every character of the training split" if kind == "char" else "learns its pieces without a minimum frequency"
        return f"{' and '.join(unused)} not used: data.tokenizer={kind} {keeps}"

    def check_vocabulary(self, tokenizer: Tokenizer, kind: TokenizerKind) -> None:
        """Refuse a fitted vocabulary of nothing but <pad> and <unk> (every token would be <unk>); warn when most
        training tokens are <unk> (`data.min_frequency` / `data.max_vocab_size` left most words out)."""
        limits = f"data.min_frequency={self.min_frequency}, data.max_vocab_size={self.max_vocab_size}"
        seen = getattr(tokenizer, "top_frequency", None)  # a word vocabulary's, fitted here
        most = f"; the most frequent training token is seen {seen} times" if seen is not None else ""
        full = self.max_vocab_size is not None and len(tokenizer) >= self.max_vocab_size
        fix = "raise data.max_vocab_size" if full else "lower data.min_frequency" if self.min_frequency > 1 else "check the training text"
        if len(tokenizer) <= len(SPECIALS):
            raise DataError(
                f"{self.training_data()}: the {kind} vocabulary fitted on the training split holds no token but "
                f"{' and '.join(SPECIALS)} ({limits}{most}): every token would be <unk> and the model would learn "
                f"nothing; {fix}"
            )
        unknown = getattr(tokenizer, "unknown_share", None)
        if unknown is not None and unknown > MOSTLY_UNKNOWN:
            log.warning("data: %.0f%% of the training split's tokens are <unk>: the %s vocabulary keeps %d tokens (%s%s); "
                        "the model reads mostly <unk>: %s", 100 * unknown, kind, len(tokenizer) - len(SPECIALS), limits, most, fix)

    def training_data(self) -> str:
        """The training data's name for messages: data.train_files, or the hub dataset."""
        files = self.train_files
        return f"data.hub={self.hub}" if self.hub else ", ".join(files) if isinstance(files, (list, tuple)) else str(files)
