"""Sample token ids from a trained language model, carrying the recurrent state step by step."""

from __future__ import annotations

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
