"""Datamodules that serve padded `Batch`es: shipped real data, synthetic memory tasks, and their parts."""

from seqtrain.data.collate import collate
from seqtrain.data.datamodule import SequenceDataModule
from seqtrain.data.facts import DataFacts
from seqtrain.data.sampler import BucketBatchSampler
from seqtrain.data.shakespeare import ShakespeareDataModule
from seqtrain.data.synthetic import AddingDataModule, ParityDataModule
from seqtrain.data.vocab import CharVocab
from seqtrain.data.vowels import VowelsDataModule

__all__ = [
    "AddingDataModule",
    "BucketBatchSampler",
    "CharVocab",
    "DataFacts",
    "ParityDataModule",
    "SequenceDataModule",
    "ShakespeareDataModule",
    "VowelsDataModule",
    "collate",
]
