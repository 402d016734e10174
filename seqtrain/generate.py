"""Sample token ids from a trained language model, carrying the recurrent state step by step."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
from torch import nn

#: Generating at least this many tokens shows a progress bar (with `progress=True`, as scripts/generate.py asks).
PROGRESS_TOKENS = 1000


@torch.no_grad()
def sample(
    model: nn.Module,
    prompt: list[int],
    length: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    generator: torch.Generator | None = None,
    progress: bool = False,
) -> list[int]:
    """Continue ``prompt`` by ``length`` ids; ``model(inputs, lengths, state)`` -> (logits, state).

    `<pad>` and `<unk>` (ids 0 and 1 in every seqtrain tokenizer) are never drawn: a drawn `<pad>` vanished from the
    text (the token was spent, the text came out shorter), a drawn `<unk>` showed as `<unk>` or U+FFFD, and the model
    went on from an input it never learned to continue (a prompt holding one is refused for that reason).

    progress: a progress bar (on stderr) when ``length`` is at least `PROGRESS_TOKENS`: a step per token, so
    `--length 100000` runs for minutes.
    """
    from tqdm.auto import tqdm

    if not prompt:
        raise ValueError("prompt must hold at least one token id")
    if isinstance(length, bool) or not isinstance(length, int) or length < 0:
        raise ValueError(f"length must be an integer >= 0, got {length!r}")
    if not math.isfinite(temperature) or temperature <= 0:
        raise ValueError(f"temperature must be a finite number > 0, got {temperature}")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
        raise ValueError(f"top_k must be an integer >= 1 or None, got {top_k!r}")
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    logits, state = model(torch.tensor([prompt], device=device))  # (1, T, V): read the prompt once
    banned = torch.tensor([PAD, UNKNOWN_ID], device=device)
    out: list[int] = []
    for _ in tqdm(range(length), desc="generate", unit="token", disable=not progress or length < PROGRESS_TOKENS):
        step_logits = (logits[0, -1] / temperature).index_fill(0, banned, float("-inf"))  # (V,)
        if top_k is not None:
            kth = torch.topk(step_logits, min(top_k, step_logits.numel() - len(banned))).values[-1]
            step_logits = step_logits.masked_fill(step_logits < kth, float("-inf"))
        probs = torch.softmax(step_logits.float(), dim=-1).cpu()
        token = torch.multinomial(probs, 1, generator=generator)  # (1,)
        out.append(int(token))
        logits, state = model(token.view(1, 1).to(device), None, state)  # one step, state carried
    model.train(was_training)
    return out


def generate_text(
    path: str | Path, prompt: str, length: int, temperature: float = 0.8, top_k: int | None = None, seed: int = 0,
    progress: bool = False,
) -> str:
    """Load a language model checkpoint (or run directory) with its saved tokenizer and continue ``prompt``."""
    from seqtrain.checkpoint import CheckpointError, load_checkpoint, rebuild

    model, datamodule, facts = rebuild(load_checkpoint(path), setup=False)
    if facts.task != "language_modeling":
        raise CheckpointError(f"{path}: a {facts.task} model, not a language model: nothing to generate")
    if top_k is not None and top_k > facts.num_outputs - 2:
        raise ValueError(f"top_k={top_k} is more than the vocabulary ({facts.num_outputs - 2} tokens that can be drawn: "
                         "<pad> and <unk> never are); leave it out to sample from all of them")
    prompt_ids = prompt_ids_in_vocabulary(datamodule, prompt)
    generator = torch.Generator().manual_seed(seed)
    return datamodule.decode(prompt_ids + sample(model, prompt_ids, length, temperature, top_k, generator, progress))


#: The ids every seqtrain tokenizer gives to padding and to what it has not seen (`seqtrain.encoders.vocab.SPECIALS`).
PAD, UNKNOWN_ID = 0, 1


def prompt_ids_in_vocabulary(datamodule: Any, prompt: str) -> list[int]:
    """The prompt's token ids; a prompt that is empty or holds what the model never saw is refused, naming it."""
    if not prompt:
        raise ValueError("prompt is empty: give at least one character to continue (the default is a new line)")
    ids = datamodule.encode(prompt)
    if not ids:
        raise ValueError(f"prompt {prompt!r} encodes to no tokens")
    if UNKNOWN_ID not in ids:
        return ids
    # Name the pieces: the words for a word vocabulary, else the characters (a char vocabulary's ids; bpe and unigram
    # read an unseen character as <unk>). A single character is a word to a word vocabulary too, so asking whether each
    # character encodes to one id named the letters of an unknown word, not the word.
    by_char = getattr(datamodule, "tokenizer_kind", "char") != "word"
    pieces = dict.fromkeys(prompt) if by_char else dict.fromkeys(prompt.split())
    unknown = [p for p in pieces if not p.isspace() and UNKNOWN_ID in datamodule.encode(p)]
    what = "characters" if by_char else "words"
    raise ValueError(
        f"prompt {prompt!r}: {what} {', '.join(map(repr, unknown)) or '(some)'} are not in the model's vocabulary "
        f"(it would read them as <unk>, which it never learned to continue); leave them out"
    )
