"""The recurrent backbone: torch.nn.RNN/LSTM/GRU, batch first, variable lengths, explicit state."""

from __future__ import annotations

from typing import Literal

from torch import Tensor, nn
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

        # Packing makes the RNN stop at each row's true end: padded outputs come back as zeros, h_n is the
        # state at step lengths-1 (and the backward direction starts at the true end, not in the padding).
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        packed_output, state = self.rnn(packed, state)  # state comes back in the batch's own row order
        output, _ = pad_packed_sequence(packed_output, batch_first=True, total_length=T)  # (B, T, D*H)
        return output, state
