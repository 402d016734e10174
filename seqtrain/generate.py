"""Sample token ids from a trained language model, carrying the recurrent state step by step."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn


@torch.no_grad()
def sample(
    model: nn.Module,
    prompt: list[int],
    length: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    generator: torch.Generator | None = None,
) -> list[int]:
    """Continue ``prompt`` by ``length`` ids; ``model(inputs, lengths, state)`` -> (logits, state)."""
    if not prompt:
        raise ValueError("prompt must hold at least one token id")
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    logits, state = model(torch.tensor([prompt], device=device))  # (1, T, V): read the prompt once
    out: list[int] = []
    for _ in range(length):
        step_logits = logits[0, -1] / temperature  # (V,)
        if top_k is not None:
            kth = torch.topk(step_logits, min(top_k, step_logits.numel())).values[-1]
            step_logits = step_logits.masked_fill(step_logits < kth, float("-inf"))
        probs = torch.softmax(step_logits.float(), dim=-1).cpu()
        token = torch.multinomial(probs, 1, generator=generator)  # (1,)
        out.append(int(token))
        logits, state = model(token.view(1, 1).to(device), None, state)  # one step, state carried
    model.train(was_training)
    return out


def generate_text(
    path: str | Path, prompt: str, length: int, temperature: float = 0.8, top_k: int | None = None, seed: int = 0
) -> str:
    """Load a language model checkpoint (or run directory) with its saved tokenizer and continue ``prompt``."""
    from seqtrain.checkpoint import CheckpointError, load_checkpoint, rebuild

    model, datamodule, facts = rebuild(load_checkpoint(path), setup=False)
    if facts.task != "language_modeling":
        raise CheckpointError(f"{path}: a {facts.task} model, not a language model: nothing to generate")
    prompt_ids = datamodule.encode(prompt)
    generator = torch.Generator().manual_seed(seed)
    return datamodule.decode(prompt_ids + sample(model, prompt_ids, length, temperature, top_k, generator))
