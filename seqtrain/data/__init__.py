"""Datamodules that serve padded `Batch`es: shipped real data, your own files, synthetic memory tasks, and their parts.

Importing this package does not import `datasets` (slow to import); loading users' files does.
"""

from seqtrain.data.collate import collate
from seqtrain.data.datamodule import SequenceDataModule
from seqtrain.data.facts import DataFacts
from seqtrain.data.forecast import ForecastDataModule
from seqtrain.data.sampler import BucketBatchSampler
from seqtrain.data.sources import DataError
from seqtrain.data.synthetic import AddingDataModule, ParityDataModule
from seqtrain.data.table import TableDataModule
from seqtrain.data.text import TextDataModule
from seqtrain.data.tokenizer import SubwordTokenizer, fit_tokenizer, tokenizer_from_dict
from seqtrain.data.vocab import CharVocab, WordVocab

__all__ = [
    "AddingDataModule",
    "BucketBatchSampler",
    "CharVocab",
    "DataError",
    "DataFacts",
    "ForecastDataModule",
    "ParityDataModule",
    "SequenceDataModule",
    "SubwordTokenizer",
    "TableDataModule",
    "TextDataModule",
    "WordVocab",
    "collate",
    "fit_tokenizer",
    "tokenizer_from_dict",
]


def __getattr__(name: str) -> object:
    """A retired shipped-dataset class names the config that replaced it (`from seqtrain.data import VowelsDataModule`)."""
    from seqtrain.legacy import retired_message

    message = retired_message("data", f"seqtrain.data.{name}")
    raise ImportError(message) if message else AttributeError(f"module 'seqtrain.data' has no attribute {name!r}")
