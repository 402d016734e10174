"""Datamodules that serve padded `Batch`es: shipped real data, your own files, synthetic memory tasks, and their parts.

Importing this package does not import `datasets` (slow to import); loading users' files does. The encoders the
datamodules fit are `seqtrain.encoders`; the facts they give the model, `seqtrain.facts`.
"""

import sys

from seqtrain import facts
from seqtrain.data.collate import collate
from seqtrain.data.datamodule import SequenceDataModule
from seqtrain.data.forecast import ForecastDataModule
from seqtrain.data.sampler import BucketBatchSampler
from seqtrain.data.sources import DataError
from seqtrain.data.synthetic import AddingDataModule, ParityDataModule
from seqtrain.data.table import TableDataModule
from seqtrain.data.text import TextDataModule
from seqtrain.encoders import CharVocab, SubwordTokenizer, WordVocab, fit_tokenizer, tokenizer_from_dict
from seqtrain.encoders import labels, scaling, tokenizer, vocab
from seqtrain.facts import DataFacts

# Where these modules were before they moved out of the data pipeline: `import seqtrain.data.vocab` still works.
sys.modules.update({f"{__name__}.{m.__name__.rsplit('.', 1)[1]}": m for m in (labels, scaling, tokenizer, vocab, facts)})

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
