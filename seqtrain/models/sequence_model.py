"""SequenceModel: input layer -> RecurrentBackbone -> head (pooled many-to-one or per-step many-to-many)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import Tensor, nn

from seqtrain.models.backbone import RecurrentBackbone, State
from seqtrain.models.bag import BAGS, BagOfEmbeddings
from seqtrain.models.differences import DIFFERENCES, Differences, first_differences, second_differences
from seqtrain.models.highway import AR_HIGHWAY_FITS, ArHighway, ArHighwayFit, AutoregressiveHighway, resolve_ar_highway
from seqtrain.models.instance_norm import INSTANCE_NORMS, InstanceNorm, RowStandardizer
from seqtrain.models.naive_bayes import FEATURES as NAIVE_BAYES, NaiveBayesPrior
from seqtrain.models.patching import PatchSpectrum, drop_leading, patch_steps
from seqtrain.models.pooling import AttentionPool, LastStatePool, MaxMeanPool, MaxPool, MeanPool
from seqtrain.models.relative import RelativeTo, RelativeToWindow, resolve_relative_to

POOLINGS = ("last", "mean", "max", "max_mean", "attention")
HEADS = ("auto", "many_to_one", "many_to_many")


class SequenceModel(nn.Module):
    """Token embedding or feature projection, a recurrent backbone, and a linear head."""

    def __init__(
        self,
        *,
        cell: Literal["rnn", "lstm", "gru"],
        hidden_size: int = 128,
        num_layers: int = 1,
        nonlinearity: Literal["tanh", "relu"] = "tanh",
        bias: bool = True,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        embedding_dim: int | None = 64,
        embedding_dropout: float = 0.0,
        head_dropout: float = 0.0,
        pooling: Literal["last", "mean", "max", "max_mean", "attention"] | None = None,
        head: Literal["auto", "many_to_one", "many_to_many"] = "auto",
        tie_weights: bool = False,
        patch_size: int = 1,
        patch_shift: bool = False,
        patch_spectrum: bool = False,
        input_noise: float = 0.0,
        crop: float = 1.0,
        instance_norm: InstanceNorm | None = None,
        differences: Differences | None = None,
        relative_to: RelativeTo | None = None,
        ar_highway: ArHighway | None = None,
        ar_highway_fit: ArHighwayFit | None = None,
        bag: Literal["unigrams", "bigrams"] | None = None,
        bag_buckets: int = 65536,
        naive_bayes: Literal["unigrams", "bigrams", "words"] | None = None,
        members: int = 1,
        # Facts from the data, passed by the run rather than typed by users.
        num_outputs: int,
        per_step_targets: bool = False,
        vocab_size: int | None = None,
        num_features: int | None = None,
        padding_idx: int | None = None,
        target_inputs: list[int] | None = None,
        window: int | None = None,
    ) -> None:
        arguments = {name: value for name, value in locals().items() if name not in ("self", "__class__")}
        super().__init__()
        # What it was built with (plain data): a checkpoint rebuilds the model from these (nanoGPT's `model_args`).
        self.arguments = arguments
        if (vocab_size is None) == (num_features is None):
            raise ValueError(
                "give exactly one of vocab_size (token inputs) or num_features (real-valued inputs), "
                f"got vocab_size={vocab_size!r}, num_features={num_features!r}"
            )
        sizes = {"num_outputs": num_outputs, "vocab_size": vocab_size, "num_features": num_features}
        sizes["embedding_dim"] = embedding_dim
        sizes["patch_size"] = patch_size
        sizes["bag_buckets"] = bag_buckets
        sizes["members"] = members
        for name, value in sizes.items():
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if isinstance(embedding_dropout, bool) or not isinstance(embedding_dropout, (int, float)) or not 0.0 <= embedding_dropout < 1.0:
            raise ValueError(f"embedding_dropout must be a probability in [0, 1), got {embedding_dropout!r}")
        if isinstance(head_dropout, bool) or not isinstance(head_dropout, (int, float)) or not 0.0 <= head_dropout < 1.0:
            raise ValueError(f"head_dropout must be a probability in [0, 1), got {head_dropout!r}")
        if isinstance(input_noise, bool) or not isinstance(input_noise, (int, float)) or not input_noise >= 0.0:
            raise ValueError(f"input_noise must be a standard deviation >= 0, got {input_noise!r}")
        if isinstance(crop, bool) or not isinstance(crop, (int, float)) or not 0.0 < crop <= 1.0:
            raise ValueError(f"crop must be a fraction of each row's steps in (0, 1], got {crop!r}")
        if not isinstance(patch_shift, bool):
            raise ValueError(f"patch_shift must be true or false, got {patch_shift!r}")
        if not isinstance(patch_spectrum, bool):
            raise ValueError(f"patch_spectrum must be true or false, got {patch_spectrum!r}")
        if differences is not None and differences not in DIFFERENCES:
            raise ValueError(f"differences must be one of {list(DIFFERENCES)} or None, got {differences!r}")
        if differences == "shape" and instance_norm is None:
            raise ValueError("differences='shape' takes the first differences of the rows instance_norm standardizes, but "
                             "instance_norm is None; set instance_norm (shape, shape_level or shape_values) or differences='inputs'")
        if head not in HEADS:
            raise ValueError(f"head must be one of {list(HEADS)}, got {head!r}")
        if pooling is not None and pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {list(POOLINGS)} or None, got {pooling!r}")
        if instance_norm is not None and instance_norm not in INSTANCE_NORMS:
            raise ValueError(f"instance_norm must be one of {list(INSTANCE_NORMS)} or None, got {instance_norm!r}")
        if bag is not None and bag not in BAGS:
            raise ValueError(f"bag must be one of {list(BAGS)} or None, got {bag!r}")
        if naive_bayes is not None and naive_bayes not in NAIVE_BAYES:
            raise ValueError(f"naive_bayes must be one of {list(NAIVE_BAYES)} or None, got {naive_bayes!r}")

        self.head_kind = head if head != "auto" else ("many_to_many" if per_step_targets else "many_to_one")
        if self.head_kind == "many_to_many" and pooling is not None:
            raise ValueError(
                f"pooling={pooling!r} only applies to a many_to_one head, but head={head!r} "
                f"resolves to 'many_to_many' (per_step_targets={per_step_targets}); set pooling to null"
            )

        if patch_size > 1:
            # A patched step stands for k input steps: it has no single step's target, and token ids do not add up.
            if vocab_size is not None:
                raise ValueError(f"patch_size={patch_size} groups real-valued steps; token inputs (vocab_size={vocab_size}) "
                                 "cannot be patched; set patch_size=1")
            if self.head_kind != "many_to_one":
                raise ValueError(f"patch_size={patch_size} needs one target per sequence (a many_to_one head), but head="
                                 f"{head!r} resolves to {self.head_kind!r}; set patch_size=1")
        # The bag and the naive Bayes read a whole sequence's tokens, for a head with one output per sequence (the task
        # refuses a naive Bayes for anything but classification).
        for option, value, does in (("bag", bag, "averages token embeddings"), ("naive_bayes", naive_bayes, "counts tokens")):
            if value is not None and vocab_size is None:
                raise ValueError(f"{option}={value!r} {does}, but this data's inputs are real-valued "
                                 f"(num_features={num_features}); set {option}=None")
            if value is not None and self.head_kind != "many_to_one":
                raise ValueError(f"{option}={value!r} summarises the whole sequence for one target per sequence (a "
                                 f"many_to_one head), but head={head!r} resolves to {self.head_kind!r}; set {option}=None")
        # Each row standardized over its own steps (seqtrain.models.instance_norm), for real-valued rows with one target
        # each; token ids and per-step heads (which would see the statistics of the steps they predict) have none, so a
        # recipe can set it for every table (the run says so in one line, as for input_noise).
        self.instance_norm: RowStandardizer | None = None
        if instance_norm is not None and num_features is not None and self.head_kind == "many_to_one":
            if resolve_relative_to(relative_to, target_inputs) is not None:
                raise ValueError(f"instance_norm={instance_norm!r} and relative_to={relative_to!r} both re-level each window; "
                                 "set one of them to None")
            self.instance_norm = RowStandardizer(instance_norm)
        # First differences beside the values (seqtrain.models.differences): of each input feature before instance_norm
        # (`inputs`; `inputs2` with the second differences too), or of instance_norm's shape after it (`shape`); for real-valued rows with one target each (token
        # ids have none; a per-step head or a forecast reads its steps as they are). None elsewhere, said by the run.
        self.differences = differences if num_features is not None and self.head_kind == "many_to_one" and window is None else None
        self.patch_size = patch_size
        # Random patch phase (k > 1 only; with k = 1 there is one phase and nothing changes): training drops a
        # random 0..k-1 leading steps of each row, so the k patchings of a series are k views of it (window
        # slicing's augmentation, Le Guennec et al. 2016, without losing more than k-1 steps); evaluation
        # averages the head's output over all k phases, the distribution training saw (test-time augmentation).
        self.patch_shift = patch_shift
        # Gaussian jitter on real-valued inputs while training (Um et al. 2017), in the inputs' units (the table
        # loader standardizes features); token ids have none (the run says so in one line).
        self.input_noise = float(input_noise) if vocab_size is None else 0.0
        # Window slicing (Le Guennec et al. 2016): training reads a random contiguous slice of `crop` of each row's
        # steps (at least one), evaluation whole rows. Real-valued rows with one target each only: a per-step head's
        # targets are the steps themselves, a forecast follows its window's last step (data with a `window`), and
        # token ids have none (the run says it is unused, as for input_noise).
        self.crop = float(crop) if vocab_size is None and self.head_kind == "many_to_one" and window is None else 1.0

        # Forecast relative to the window (seqtrain.models.relative): needs each output's own input feature.
        self.relative: RelativeToWindow | None = None
        if (relative_to := resolve_relative_to(relative_to, target_inputs)) is not None:
            if num_features is None or target_inputs is None:
                raise ValueError(
                    f"relative_to={relative_to!r} forecasts each target relative to its own past values, so every target "
                    "must also be a real-valued input (forecasting: data.target_columns among data.columns); this data "
                    f"gives {'token inputs' if num_features is None else 'targets that are not all inputs'}; set relative_to=null"
                )
            self.relative = RelativeToWindow(relative_to, target_inputs, num_features, self.head_kind == "many_to_many")

        # A linear AR on each target's last k input steps beside the network (seqtrain.models.highway).
        self.highway: AutoregressiveHighway | None = None
        if (steps := resolve_ar_highway(ar_highway, target_inputs, window, self.head_kind == "many_to_many")) is not None:
            if num_features is None or target_inputs is None:
                raise ValueError(
                    f"ar_highway={steps} maps each target's own past values to its forecast, so every target must also be a "
                    "real-valued input (forecasting: data.target_columns among data.columns); this data gives "
                    f"{'token inputs' if num_features is None else 'targets that are not all inputs'}; set ar_highway=null"
                )
            if self.head_kind != "many_to_one":
                raise ValueError(f"ar_highway={steps} adds one linear forecast per window (a many_to_one head), but head="
                                 f"{head!r} resolves to {self.head_kind!r}; set ar_highway=null")
            if window is not None and steps > window:
                raise ValueError(f"ar_highway={steps} reads the last {steps} steps, but the data's windows have {window}; "
                                 f"set ar_highway to at most {window} (or auto: the whole window)")
            self.highway = AutoregressiveHighway(steps, target_inputs)
        # Where the highway's weights start (seqtrain.models.highway): zero, or the least-squares fit (`fit_highway`).
        if ar_highway_fit is not None and ar_highway_fit not in AR_HIGHWAY_FITS:
            raise ValueError(f"ar_highway_fit must be one of {list(AR_HIGHWAY_FITS)} or None, got {ar_highway_fit!r}")
        if ar_highway_fit is not None and ar_highway is None:
            raise ValueError(f"ar_highway_fit={ar_highway_fit} fits the AR highway's weights, but ar_highway=None; set "
                             "ar_highway (auto, or k steps) or ar_highway_fit=None")
        # ar_highway=auto that the data turned off (said by the run) leaves nothing to fit.
        self.highway_fit = ar_highway_fit if self.highway is not None else None
        if self.highway_fit == "fixed":
            self.highway.weight.requires_grad_(False)  # the fit is kept: no gradient, so no optimizer step or decay

        # Input layer, chosen by what the data holds.
        self.spectrum: PatchSpectrum | None = None
        if vocab_size is not None:
            if embedding_dim is None:
                raise ValueError(f"embedding_dim is required for token inputs (vocab_size={vocab_size})")
            if padding_idx is not None and not -vocab_size <= padding_idx < vocab_size:
                raise ValueError(f"padding_idx must be a token id below vocab_size={vocab_size}, got {padding_idx!r}")
            self.input_layer: nn.Module = nn.Embedding(vocab_size, embedding_dim, padding_idx=padding_idx)
        else:
            if padding_idx is not None:
                raise ValueError(f"padding_idx is for token inputs only, got it with num_features={num_features}")
            # embedding_dim=None feeds the features to the RNN unchanged.
            # A patch of k steps is one input of k*F features (F counts the features instance_norm adds).
            step_features = num_features * {"inputs": 2, "inputs2": 3}.get(self.differences, 1)
            if self.instance_norm is not None:
                step_features = self.instance_norm.features(step_features) + (num_features if self.differences == "shape" else 0)
            patch_features = patch_size * step_features
            # Each patch's magnitude spectrum beside its values (k > 1 only: one step's spectrum is its size).
            if patch_spectrum and patch_size > 1:
                self.spectrum = PatchSpectrum(patch_size, step_features)
                patch_features += PatchSpectrum.features(patch_size, step_features)
            self.input_layer = nn.Linear(patch_features, embedding_dim) if embedding_dim is not None else nn.Identity()
        rnn_input_size = embedding_dim if embedding_dim is not None else patch_features
        # Dropout on the embedded tokens (each of the (B, T, E) values, as nn.Dropout): token inputs only, where a
        # small text set's embedding rows over-fit first. Real-valued inputs have none, so a recipe can set it for
        # every table and leave numeric runs as they were (the run says so in one line).
        self.embedding_dropout: nn.Module | None = (
            nn.Dropout(embedding_dropout) if vocab_size is not None and embedding_dropout > 0 else None
        )

        self.backbone = RecurrentBackbone(
            cell,
            rnn_input_size,
            hidden_size,
            num_layers=num_layers,
            nonlinearity=nonlinearity,
            bias=bias,
            dropout=dropout,
            bidirectional=bidirectional,
            proj_size=proj_size,
        )
        D = self.backbone.num_directions

        self.pool: nn.Module | None = None
        if self.head_kind == "many_to_one":
            pooling = pooling or "last"
            self.pool = {
                "last": lambda: LastStatePool(D), "mean": MeanPool, "max": MaxPool, "max_mean": MaxMeanPool,
                "attention": lambda: AttentionPool(self.backbone.output_size),
            }[pooling]()
        # fastText's bag beside the RNN (seqtrain.models.bag): its (B, E) mean joins the pooled (B, D*H) state. Off,
        # the model and its state dict keys are what they were before the option existed (old checkpoints load).
        self.bag: BagOfEmbeddings | None = None
        if bag is not None:
            assert vocab_size is not None and embedding_dim is not None  # refused above
            self.bag = BagOfEmbeddings(bag, vocab_size, embedding_dim, bag_buckets, dropout=embedding_dropout)
        bag_size = embedding_dim if self.bag is not None else 0
        # Dropout on what the head reads (LSTM-FCN drops 80 % of its LSTM's output there): training only.
        self.head_dropout: nn.Module | None = nn.Dropout(head_dropout) if head_dropout > 0 else None
        pooled_size = self.backbone.output_size * (2 if isinstance(self.pool, MaxMeanPool) else 1)
        self.output_layer = nn.Linear(pooled_size + bag_size, num_outputs)
        # A naive Bayes over the row's tokens (and token pairs), added to the logits (seqtrain.models.naive_bayes);
        # its counts are fitted on the training and validation rows when a fit starts. Off: the state dict is as before.
        self.naive_bayes: NaiveBayesPrior | None = None
        if naive_bayes is not None:
            assert vocab_size is not None  # refused above
            self.naive_bayes = NaiveBayesPrior(vocab_size, num_outputs, pairs=naive_bayes != "unigrams",
                                               words=naive_bayes == "words", fold=naive_bayes == "words")

        if tie_weights:
            # Press & Wolf (2017): the output layer reuses the embedding, so both matrices must be (V, E).
            problems = []
            if vocab_size is None:
                problems.append(f"token inputs (vocab_size), but the data has num_features={num_features}")
            if self.head_kind != "many_to_many":
                problems.append(f"a many_to_many head, but head={head!r} resolves to {self.head_kind!r}")
            if vocab_size is not None and num_outputs != vocab_size:
                problems.append(f"num_outputs == vocab_size, but {num_outputs} != {vocab_size}")
            if self.backbone.output_size != embedding_dim:
                problems.append(
                    f"D*H == embedding_dim, but {D}*hidden_size={self.backbone.output_size} != "
                    f"embedding_dim={embedding_dim}"
                )
            if problems:
                raise ValueError("tie_weights=True needs " + "; ".join(problems))
            self.output_layer.weight = self.input_layer.weight

        # A deep ensemble (Lakshminarayanan et al. 2017): `members - 1` more networks of this one's shape, each from its
        # own initialisation (drawn after this one's, so member 0 is the network a run with members=1 builds) and with
        # its own random patch phases and dropout, trained on the same batches, each by its own loss
        # (`SequenceTask`). The output is the mean of the members' outputs: for logits, the normalised geometric mean of
        # their probabilities, as the patch phases' mean. What the data fixes is shared, added to every member's output:
        # the naive Bayes term, the AR highway and the window's level. Each member carries its own recurrent state.
        self.members = members
        self.others = nn.ModuleList(
            SequenceModel(**{**arguments, "members": 1, "naive_bayes": None, "ar_highway": None, "ar_highway_fit": None,
                             "relative_to": None})
            for _ in range(members - 1)
        )

    def forward(
        self, inputs: Tensor, lengths: Tensor | None = None, state: State | None = None
    ) -> tuple[Tensor, State]:
        """inputs (B, T) long or (B, T, F) float -> predictions (B, num_outputs) or (B, T, num_outputs), state.
        With `members` > 1, the mean of the members' predictions."""
        outputs, state = self.member_outputs(inputs, lengths, state)
        return (outputs[0] if len(outputs) == 1 else torch.stack(outputs).mean(dim=0)), state

    def member_outputs(
        self, inputs: Tensor, lengths: Tensor | None = None, state: State | None = None
    ) -> tuple[list[Tensor], State]:
        """Each member's predictions, the shared terms (naive Bayes, AR highway, level) added to each, and the state.
        A model of M members keeps their states one after another on the first axis: (M*L*D, B, H) (or such a pair)."""
        raw = inputs
        level = None
        if self.relative is not None:
            inputs, level = self.relative(inputs, lengths)  # (B, T, F) shifted; level (B, num_outputs) or (B, T, num_outputs)
        networks = (self, *self.others)
        outputs, states = [], []
        for network, member_state in zip(networks, _split_state(state, len(networks)), strict=True):
            predictions, member_state = network._forward_phases(inputs, lengths, member_state)
            outputs.append(predictions)
            states.append(member_state)
        state = _join_states(states)
        if self.naive_bayes is not None:
            full = lengths if lengths is not None else torch.full((raw.shape[0],), raw.shape[1], dtype=torch.long)
            scores = self.naive_bayes(raw, full)  # (B, num_outputs)
            outputs = [logits + scores for logits in outputs]
        if self.highway is not None:
            highway = self.highway(inputs, lengths)  # (B, num_outputs): the linear AR on the same window
            outputs = [predictions + highway for predictions in outputs]
        if level is not None:
            outputs = [predictions + level for predictions in outputs]  # the network forecasts the change from the level
        return outputs, state

    def member_parameters(self) -> list[list[nn.Parameter]]:
        """The parameters by member: this network's and the shared ones first, then each other member's."""
        others = {id(p) for p in self.others.parameters()}
        return [[p for p in self.parameters() if id(p) not in others], *(list(o.parameters()) for o in self.others)]

    @torch.no_grad()
    def fit_highway(self, inputs: Tensor, targets: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """`ar_highway_fit`: the highway's weights to the least-squares AR fit on (N, T, F) training windows and their
        (N, num_outputs) targets, in the frame it reads (`relative_to`'s shift taken off both); returns
        `AutoregressiveHighway.fit`'s (O,) ridges, training and leave-one-out RMSEs in the scaled units. The network
        beside it is left as it is."""
        if self.highway is None:
            raise ValueError("fit_highway needs an AR highway (ar_highway)")
        level = None
        if self.relative is not None:
            inputs, level = self.relative(inputs, None)
        return self.highway.fit(inputs, targets if level is None else targets - level)

    def _forward_phases(self, inputs: Tensor, lengths: Tensor | None, state: State | None) -> tuple[Tensor, State]:
        """Instance norm, input noise and patch phases (training: a random phase per row; evaluation: the mean over all
        k), then `_forward`."""
        if self.differences in ("inputs", "inputs2"):  # (B, T, 2F) or (B, T, 3F); padding left to what reads it
            first = first_differences(inputs, lengths)
            second = [second_differences(first, lengths)] if self.differences == "inputs2" else []
            inputs = torch.cat([inputs, first, *second], dim=-1)
        if self.instance_norm is not None:
            F = inputs.shape[-1]
            inputs = self.instance_norm(inputs, lengths)  # (B, T, F), (B, T, 2F) or (B, T, 3F): `RowStandardizer.features`
            if self.differences == "shape":  # the shape's first F features, differenced
                inputs = torch.cat([inputs, first_differences(inputs[..., :F], lengths)], dim=-1)
        if self.training and self.input_noise > 0:
            # Drawn on the CPU from torch's global generator, like the patch phase: seeded, resumable, any device.
            inputs = inputs + self.input_noise * torch.randn(inputs.shape, dtype=inputs.dtype).to(inputs.device)  # (B, T, F)
        k = self.patch_size
        if self.training and self.crop < 1.0:
            # A random start per row (so also a random patch phase), then the slice's length: from torch's global
            # generator on the CPU, like the phase below.
            B, T = inputs.shape[:2]
            full = torch.full((B,), T, dtype=torch.long) if lengths is None else lengths.cpu()
            keep = torch.clamp(torch.ceil(self.crop * full).long(), min=1)  # (B,)
            start = (torch.rand(B) * (full - keep + 1)).long()  # (B,) uniform in 0..full-keep
            shifted, _ = drop_leading(inputs, full, start)
            return self._forward(shifted, keep if lengths is None else keep.to(lengths.device), state)
        if not self.patch_shift or k == 1:
            return self._forward(inputs, lengths, state)
        if self.training:
            # One phase per row, from torch's global generator (seeded runs repeat; a resume restores its state).
            # Drawn on the CPU, where lengths live, so a run draws the same phases on any device.
            drop = torch.randint(0, k, (inputs.shape[0],))  # (B,)
            return self._forward(*drop_leading(inputs, lengths, drop), state)
        # Every phase r = 0..k-1 of every row in one batch, phase-major: row r*B + b is row b without r steps.
        # The mean is over the head's outputs (logits for classification, the prediction for regression): the
        # model's output keeps its meaning (the loss, argmax and softmax downstream read logits), and a mean of
        # logits is the normalised geometric mean of the phases' probabilities, a product of experts.
        B = inputs.shape[0]
        drop = torch.arange(k)[:, None].expand(k, B).reshape(-1)  # (k*B,)
        repeated = inputs.repeat(k, *([1] * (inputs.dim() - 1)))  # (k*B, T, F)
        output, state = self._forward(*drop_leading(repeated, None if lengths is None else lengths.repeat(k), drop),
                                      _repeat_state(state, k))
        predictions = output.reshape(k, B, *output.shape[1:]).mean(dim=0)  # (B, num_outputs)
        return predictions, _first_rows(state, B)  # the state of phase 0: the series as given

    def _forward(self, inputs: Tensor, lengths: Tensor | None, state: State | None) -> tuple[Tensor, State]:
        """One pass over the rows as given: (B, T, F) or (B, T) -> (B, num_outputs) or (B, T, num_outputs), state."""
        inputs, lengths = patch_steps(inputs, lengths, self.patch_size)  # (B, ceil(T/k), k*F); unchanged for k=1
        if self.spectrum is not None:
            inputs = self.spectrum(inputs)  # (B, ceil(T/k), k*F + (k//2+1)*F)
        x = self.input_layer(inputs)  # (B, T, E), or (B, T, F) when features go in unchanged
        if self.embedding_dropout is not None:
            x = self.embedding_dropout(x)  # (B, T, E); training only
        output, state = self.backbone(x, lengths, state)  # (B, T, D*H); padded steps are zeros
        if self.pool is None:
            if self.head_dropout is not None:
                output = self.head_dropout(output)  # (B, T, D*H); training only
            return self.output_layer(output), state  # (B, T, num_outputs)
        if lengths is None:
            lengths = torch.full((output.shape[0],), output.shape[1], dtype=torch.long)
        pooled = self.pool(output, lengths)  # (B, D*H); (B, 2*D*H) with max_mean
        if self.bag is not None:
            pooled = torch.cat([pooled, self.bag(inputs, lengths)], dim=-1)  # (B, D*H + E)
        if self.head_dropout is not None:
            pooled = self.head_dropout(pooled)  # training only
        return self.output_layer(pooled), state  # (B, num_outputs); `member_outputs` adds the naive Bayes


def _split_state(state: State | None, members: int) -> list[State | None]:
    """An ensemble's state (M*L*D, B, H) (or pair) -> each member's (L*D, B, H); None -> None for each. One member's
    is the state as given."""
    if members == 1:
        return [state]
    if state is None:
        return [None] * members
    if isinstance(state, tuple):
        return list(zip(*(s.chunk(members, dim=0) for s in state), strict=True))
    return list(state.chunk(members, dim=0))


def _join_states(states: Sequence[State]) -> State:
    """The members' states, one after another on the first axis: (M*L*D, B, H) (or pair); one member's as it is."""
    if len(states) == 1:
        return states[0]
    if isinstance(states[0], tuple):
        return tuple(torch.cat(parts, dim=0) for parts in zip(*states, strict=True))  # type: ignore[return-value]
    return torch.cat(states, dim=0)


def _repeat_state(state: State | None, k: int) -> State | None:
    """A state (L*D, B, H) (or an LSTM's pair) for k copies of the batch: (L*D, k*B, H), copy-major."""
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(s.repeat(1, k, 1) for s in state)  # type: ignore[return-value]
    return state.repeat(1, k, 1)


def _first_rows(state: State, B: int) -> State:
    """The first B rows of a state (L*D, k*B, H) (or pair): the unshifted copy's."""
    if isinstance(state, tuple):
        return tuple(s[:, :B] for s in state)  # type: ignore[return-value]
    return state[:, :B]
