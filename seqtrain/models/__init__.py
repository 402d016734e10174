"""nn.Modules only: recurrent backbone, poolers, the composed SequenceModel, and the plain-loop reference."""

from seqtrain.models.backbone import RecurrentBackbone, State
from seqtrain.models.pooling import AttentionPool, LastStatePool, MaxMeanPool, MaxPool, MeanPool
from seqtrain.models.reference import ReferenceRNN
from seqtrain.models.sequence_model import SequenceModel

__all__ = ["SequenceModel", "RecurrentBackbone", "State", "LastStatePool", "MeanPool", "MaxPool", "MaxMeanPool", "AttentionPool", "ReferenceRNN"]
