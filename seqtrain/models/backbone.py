"""The recurrent backbone: torch.nn.RNN/LSTM/GRU, batch first, variable lengths, explicit state."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

#: Recurrent state: h (D*L, B, H), or (h, c) for an LSTM (h (D*L, B, proj_size) where it projects).
State = Tensor | tuple[Tensor, Tensor]

RECURRENT_MODULES = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class RecurrentBackbone(nn.Module):
    """A batch-first torch.nn.RNN/LSTM/GRU that takes sequence lengths and hands its final state back."""

    def __init__(
        self,
        cell: Literal["rnn", "lstm", "gru"],
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: Literal["tanh", "relu"] = "tanh",
        bias: bool = True,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
    ) -> None:
        super().__init__()
        if cell not in RECURRENT_MODULES:
            raise ValueError(f"cell must be one of {list(RECURRENT_MODULES)}, got {cell!r}")
        for name, value in {"input_size": input_size, "hidden_size": hidden_size, "num_layers": num_layers}.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be one of ['tanh', 'relu'], got {nonlinearity!r}")
        if nonlinearity == "relu" and cell != "rnn":
            # LSTM and GRU gates are fixed sigmoid/tanh; torch would reject the argument anyway.
            raise ValueError(f"nonlinearity='relu' is only for cell='rnn', got cell={cell!r}")
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        if isinstance(proj_size, bool) or not isinstance(proj_size, int) or proj_size < 0:
            raise ValueError(f"proj_size must be an integer >= 0 (0: no projection), got {proj_size!r}")
        if proj_size and (cell != "lstm" or proj_size >= hidden_size):
            # torch.nn.LSTM's projection of h (Sak et al. 2014); RNN and GRU have none.
            raise ValueError(f"proj_size={proj_size} projects an LSTM's hidden state to fewer units: it needs cell='lstm' and "
                             f"proj_size < hidden_size, got cell={cell!r}, hidden_size={hidden_size}")

        extra: dict = {"nonlinearity": nonlinearity} if cell == "rnn" else {"proj_size": proj_size} if proj_size else {}
        self.rnn = RECURRENT_MODULES[cell](
            input_size,
            hidden_size,
            num_layers=num_layers,
            bias=bias,
            batch_first=True,
            dropout=dropout,  # torch applies it between layers only, so it warns when num_layers == 1
            bidirectional=bidirectional,
            **extra,
        )
        self.cell = cell
        # One layer in one direction, on the meta device (no memory, not in the state dict): `_by_segments` runs it
        # with each layer's and direction's own parameters.
        above = (2 if bidirectional else 1) * (proj_size or hidden_size)  # what a layer above the first reads
        self.__dict__["_one_layer"] = {size: RECURRENT_MODULES[cell](size, hidden_size, bias=bias, batch_first=True,
                                                                     device="meta", **extra)
                                       for size in {input_size, above}}

    @property
    def num_directions(self) -> int:
        return 2 if self.rnn.bidirectional else 1

    @property
    def output_size(self) -> int:
        """Features per step of the output: D*H (H: an LSTM's proj_size where it projects)."""
        return self.num_directions * (getattr(self.rnn, "proj_size", 0) or self.rnn.hidden_size)

    def forward(self, x: Tensor, lengths: Tensor | None = None, state: State | None = None) -> tuple[Tensor, State]:
        """x (B, T, I), lengths (B,) long on the CPU, state None (zeros) or as returned -> (B, T, D*H), state."""
        T = x.shape[1]
        if lengths is None or bool((lengths == T).all()):
            # Nothing padded: cuDNN/MKL run the whole sequence in one call.
            return self.rnn(x, state)

        if x.device.type == "cpu" and not torch.jit.is_tracing():  # an export traces the packed graph, for any lengths
            return self._by_segments(x, lengths.cpu(), state)
        # Packing makes the RNN stop at each row's true end: padded outputs come back as zeros, h_n is the
        # state at step lengths-1 (and the backward direction starts at the true end, not in the padding).
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        packed_output, state = self.rnn(packed, state)  # state comes back in the batch's own row order
        output, _ = pad_packed_sequence(packed_output, batch_first=True, total_length=T)  # (B, T, D*H)
        return output, state

    def _by_segments(self, x: Tensor, lengths: Tensor, state: State | None) -> tuple[Tensor, State]:
        """What the packed call returns, computed without packing: on the CPU, torch runs a packed sequence one step at
        a time through autograd, and each step's slice of the input costs a zero-filled gradient as large as the whole
        input in the backward pass, so time grows with the square of the length (a bidirectional GRU-64, 16 rows of up
        to 1,500 steps: 2.8 s a step packed, 0.36 s in segments; `scripts/padded_rnn_benchmark.py`). Rows sorted by
        length share the time axis in segments between their distinct lengths; each segment is one unpacked call over
        the rows still running (forward) or already started (backward, which runs from each row's own end), layer by
        layer, carrying the state."""
        rnn = self.rnn
        B, T, _ = x.shape
        D, L = self.num_directions, rnn.num_layers
        lstm = self.cell == "lstm"
        if state is None:
            size = getattr(rnn, "proj_size", 0) or rnn.hidden_size
            h0 = x.new_zeros(D * L, B, size)
            c0 = x.new_zeros(D * L, B, rnn.hidden_size) if lstm else None
        else:
            h0, c0 = state if lstm else (state, None)
        order = torch.argsort(lengths, descending=True, stable=True)
        lengths = lengths[order]
        order = order.to(x.device)
        restore = torch.argsort(order)
        bounds = sorted({int(n) for n in lengths if n > 0})  # segment ends, ascending
        sizes = [b - a for a, b in zip([0, *bounds], bounds)]
        running = [int((lengths >= b).sum()) for b in bounds]  # rows inside each segment
        layer_input = x[order]
        h0, c0 = h0[:, order], (c0[:, order] if lstm else None)
        h_n, c_n = [], []
        for layer in range(L):
            outputs = []
            for direction in range(D):
                k = layer * D + direction
                suffix = f"_l{layer}{'_reverse' if direction else ''}"
                template = self.__dict__["_one_layer"][layer_input.shape[-1]]
                params = {name: getattr(rnn, name.removesuffix("_l0") + suffix) for name in template._flat_weights_names}
                pieces = layer_input[:, : bounds[-1]].split(sizes, dim=1) if bounds else []
                out, h, c = self._one_direction(template, pieces, running, params, h0[k], c0[k] if lstm else None,
                                                bool(direction))
                outputs.append(F.pad(out, (0, 0, 0, T - out.shape[1])))
                h_n.append(h)
                c_n.append(c)
            layer_input = torch.cat(outputs, dim=-1) if D == 2 else outputs[0]
            if rnn.dropout and self.training and layer < L - 1:
                layer_input = F.dropout(layer_input, rnn.dropout, training=True)
        output = layer_input[restore]
        h_n = torch.stack(h_n)[:, restore]
        return output, ((h_n, torch.stack(c_n)[:, restore]) if lstm else h_n)

    @staticmethod
    def _one_direction(template: nn.Module, pieces: list[Tensor], running: list[int], params: dict[str, Tensor],
                       h0: Tensor, c0: Tensor | None, backward: bool) -> tuple[Tensor, Tensor, Tensor | None]:
        """One layer in one direction (``template`` run with ``params``) over rows sorted by length (``pieces``: the
        time segments, ``running``: rows inside each): (B, max length, H) outputs, zero past each row's end, and each
        row's final h (and c)."""
        B = h0.shape[0]

        def step(piece: Tensor, h: Tensor, c: Tensor | None) -> tuple[Tensor, Tensor, Tensor | None]:
            hx = (h[None], c[None]) if c is not None else h[None]
            out, state = functional_call(template, params, (piece, hx))
            return (out, state[0][0], state[1][0]) if c is not None else (out, state[0], None)

        outs: list[Tensor] = [None] * len(pieces)  # type: ignore[list-item]
        if not backward:  # rows leave as they end; a row's final state is its state then
            h, c = h0, c0
            done_h, done_c = [], []
            for i, (piece, n) in enumerate(zip(pieces, running)):
                staying = running[i + 1] if i + 1 < len(running) else 0
                out, h, c = step(piece[:n], h[:n], c[:n] if c is not None else None)
                outs[i] = F.pad(out, (0, 0, 0, 0, 0, B - n))
                done_h.append(h[staying:])
                done_c.append(c[staying:] if c is not None else None)
            h_n = torch.cat([*reversed(done_h), h0[running[0]:]]) if pieces else h0
            c_n = (torch.cat([*reversed(done_c), c0[running[0]:]]) if pieces else c0) if c0 is not None else None
        else:  # from the last segment to the first, rows joining at their own end with their initial state
            h = c = None
            for i in reversed(range(len(pieces))):
                n = running[i]
                joined = 0 if h is None else h.shape[0]
                h = h0[:n] if h is None else torch.cat([h, h0[joined:n]])
                if c0 is not None:
                    c = c0[:n] if c is None else torch.cat([c, c0[joined:n]])
                out, h, c = step(pieces[i][:n].flip(1), h, c)
                outs[i] = F.pad(out.flip(1), (0, 0, 0, 0, 0, B - n))
            h_n = h0 if h is None else torch.cat([h, h0[h.shape[0]:]])
            c_n = (c0 if c is None else torch.cat([c, c0[c.shape[0]:]])) if c0 is not None else None
        output = torch.cat(outs, dim=1) if outs else h0.new_zeros(B, 0, h0.shape[-1])
        return output, h_n, c_n
