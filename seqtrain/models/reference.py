"""Elman RNN, LSTM and GRU as plain per-step loops: the maths the fast path is held to in tests."""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor, nn

# Rows of weight_ih / weight_hh per hidden unit, stacked in torch's gate order.
_GATES = {"rnn": 1, "lstm": 4, "gru": 3}  # lstm: i, f, g, o; gru: r, z, n


class ReferenceRNN(nn.Module):
    """Batch-first RNN/LSTM/GRU written as the torch.nn docs' equations; slow, for tests and reading only."""

    def __init__(
        self,
        cell: Literal["rnn", "lstm", "gru"],
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: Literal["tanh", "relu"] = "tanh",
        bias: bool = True,
        bidirectional: bool = False,
    ) -> None:
        super().__init__()
        if cell not in _GATES:
            raise ValueError(f"cell must be one of {sorted(_GATES)}, got {cell!r}")
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.cell = cell
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.nonlinearity = nonlinearity
        self.bias = bias
        self.num_directions = 2 if bidirectional else 1

        # Same names, shapes, registration order and init as torch.nn.RNN, so state dicts swap freely.
        rows = _GATES[cell] * hidden_size
        bound = 1 / math.sqrt(hidden_size)
        for layer in range(num_layers):
            layer_input_size = input_size if layer == 0 else self.num_directions * hidden_size
            for suffix in ("", "_reverse")[: self.num_directions]:
                shapes = {"weight_ih": (rows, layer_input_size), "weight_hh": (rows, hidden_size)}
                if bias:
                    shapes |= {"bias_ih": (rows,), "bias_hh": (rows,)}
                for name, shape in shapes.items():
                    param = nn.Parameter(torch.empty(shape).uniform_(-bound, bound))
                    self.register_parameter(f"{name}_l{layer}{suffix}", param)

    def forward(
        self, x: Tensor, h0: Tensor | tuple[Tensor, Tensor] | None = None
    ) -> tuple[Tensor, Tensor | tuple[Tensor, Tensor]]:
        """Run every layer and direction step by step; x is (B, T, I)."""
        B, T, _ = x.shape
        D, L, H = self.num_directions, self.num_layers, self.hidden_size
        zeros = x.new_zeros(D * L, B, H)
        if self.cell == "lstm":
            h0, c0 = h0 if h0 is not None else (zeros, zeros)  # each (D*L, B, H)
        else:
            h0, c0 = (h0 if h0 is not None else zeros), zeros  # c0 is unused outside LSTM

        h_n, c_n = [], []
        layer_input = x  # (B, T, I), then (B, T, D*H) from layer 1 on
        for layer in range(L):
            direction_outputs = []
            for direction in range(D):
                suffix = "_reverse" if direction else ""
                params = [
                    getattr(self, f"{name}_l{layer}{suffix}", None)
                    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
                ]
                h, c = h0[layer * D + direction], c0[layer * D + direction]  # (B, H)
                steps = range(T - 1, -1, -1) if direction else range(T)  # the reverse direction reads right to left
                outputs: list[Tensor] = [x.new_empty(0)] * T
                for t in steps:
                    h, c = self._step(layer_input[:, t], h, c, *params)
                    outputs[t] = h
                direction_outputs.append(torch.stack(outputs, dim=1))  # (B, T, H)
                h_n.append(h)
                c_n.append(c)
            layer_input = torch.cat(direction_outputs, dim=-1)  # (B, T, D*H)

        h_n_t = torch.stack(h_n)  # (D*L, B, H), index = layer * D + direction, as torch
        if self.cell == "lstm":
            return layer_input, (h_n_t, torch.stack(c_n))
        return layer_input, h_n_t

    def _step(
        self, x: Tensor, h: Tensor, c: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor | None, b_hh: Tensor | None
    ) -> tuple[Tensor, Tensor]:
        """One time step of one layer and direction: x (B, I_l), h and c (B, H)."""
        gi = x @ w_ih.T  # (B, G*H)
        gh = h @ w_hh.T  # (B, G*H)
        if b_ih is not None:
            gi = gi + b_ih
            gh = gh + b_hh

        if self.cell == "rnn":
            # h' = act(W_ih x + b_ih + W_hh h + b_hh)
            act = torch.tanh if self.nonlinearity == "tanh" else torch.relu
            return act(gi + gh), c

        if self.cell == "lstm":
            i, f, g, o = (gi + gh).chunk(4, dim=-1)
            i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
            c = f * c + i * g
            return o * torch.tanh(c), c

        # GRU: the reset gate scales the hidden part of n *including* its bias (torch's, not the paper's, form).
        i_r, i_z, i_n = gi.chunk(3, dim=-1)
        h_r, h_z, h_n = gh.chunk(3, dim=-1)
        r = torch.sigmoid(i_r + h_r)
        z = torch.sigmoid(i_z + h_z)
        n = torch.tanh(i_n + r * h_n)
        return (1 - z) * n + z * h, c
