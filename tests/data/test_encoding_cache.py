"""Encoding runs through cached `Dataset.map`s: the same files and settings are not encoded twice."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import torch
from user_files import corpus_lines, sentiment_rows, write_csv

from seqtrain.data import TableDataModule, TextDataModule
from seqtrain.data import table as table_module
from seqtrain.data import text as text_module

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def map_calls(monkeypatch: pytest.MonkeyPatch) -> Counter:
    """Counts the batches each map function encodes (the wrappers keep the functions' names, so their fingerprints)."""
    calls: Counter = Counter()
    for module, name in ((table_module, "parse_rows"), (table_module, "encode_rows"), (text_module, "encode_texts")):
        original = getattr(module, name)

        @functools.wraps(original)
        def counting(*args, _original=original, _name=name, **kwargs):
            calls[_name] += 1
            return _original(*args, **kwargs)

        monkeypatch.setattr(module, name, counting)
    return calls


def cache_files(cache: Path) -> list[Path]:
    return sorted(cache.rglob("cache-*.arrow"))


def test_second_setup_on_the_same_files_reads_the_cache(tmp_path: Path, map_calls: Counter) -> None:
    cache = tmp_path / "hf_cache"
    path = str(write_csv(tmp_path / "reviews.csv", sentiment_rows(60)))

    def setup(**kwargs) -> TableDataModule:
        dm = TableDataModule(train_files=path, sequence_column="text", tokenizer="word", cache_dir=str(cache), **kwargs)
        dm.setup()
        return dm

    first = setup()
    assert map_calls == {"parse_rows": 1, "encode_rows": 3}  # one file read; train, val, test encoded
    written = cache_files(cache)
    assert len(written) == 4
    map_calls.clear()
    second = setup()  # a fresh datamodule, as a second run would build
    assert map_calls == {} and cache_files(cache) == written
    for split in ("train", "test"):
        assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(first.split(split), second.split(split)))
    setup(max_length=3)  # other settings: encoded again, but the file is not read again
    assert map_calls == {"encode_rows": 3}
    map_calls.clear()
    Path(path).write_text(Path(path).read_text() + "good good,pos\n")  # a changed file is read again
    setup()
    assert map_calls["parse_rows"] == 1


def test_a_second_process_reuses_the_cached_encoding(tmp_path: Path, map_calls: Counter) -> None:
    """The fingerprints (and the refitted BPE tokenizer) are the same in a new process."""
    cache = tmp_path / "hf_cache"
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(corpus_lines(300))
    build = (
        "import sys\n"
        "from seqtrain.data import TextDataModule\n"
        "assert 'datasets' not in sys.modules, 'seqtrain.data imported datasets'\n"
        f"dm = TextDataModule(train_files={str(corpus)!r}, tokenizer='bpe', max_vocab_size=300, seq_len=8, "
        f"batch_size=4, cache_dir={str(cache)!r})\n"
        "dm.setup()\n"
        "print(len(dm.split('train')))\n"
    )
    in_process = TextDataModule(
        train_files=str(corpus), tokenizer="bpe", max_vocab_size=300, seq_len=8, batch_size=4, cache_dir=str(cache)
    )
    in_process.setup()
    assert map_calls == {"encode_texts": 3}
    written = cache_files(cache)
    proc = subprocess.run(
        [sys.executable, "-c", build], cwd=ROOT, capture_output=True, text=True, check=False, env={**os.environ, "HF_DATASETS_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert int(proc.stdout.split()[-1]) == len(in_process.split("train"))
    assert cache_files(cache) == written  # nothing encoded again
    assert "seqtrain: encoding" not in proc.stderr
