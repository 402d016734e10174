"""The encoders a run fits on its training split and saves as plain data: tokenizers and vocabularies, the label map,
the standardizer. Each has `fit`, `encode` / `decode` and `to_dict` / `from_dict`.

The datamodules fit them; checkpoints, `seqtrain.predict` and `scripts/export.py`'s `<out>.json` carry their
`to_dict`. Importing this package imports neither Lightning, `datasets` nor torch, so the caller of an exported
model encodes its inputs with the run's own encoders (README, "Use a trained model").
"""

from seqtrain.encoders.labels import LabelMap
from seqtrain.encoders.saved import SavedEncoders, encoders_from_state
from seqtrain.encoders.scaling import Standardizer
from seqtrain.encoders.tokenizer import SubwordTokenizer, Tokenizer, fit_tokenizer, tokenizer_from_dict
from seqtrain.encoders.vocab import CharVocab, WordVocab

__all__ = [
    "CharVocab",
    "LabelMap",
    "SavedEncoders",
    "Standardizer",
    "SubwordTokenizer",
    "Tokenizer",
    "WordVocab",
    "encoders_from_state",
    "fit_tokenizer",
    "tokenizer_from_dict",
]
