"""The recipe a run uses: which one (configs/recipe/<data>.yaml follows the data), why, and its settings."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from seqtrain.errors import DataError

# The settings that make a recipe, printed in one block at the start of a run (absent keys are left out).
RECIPE_KEYS = {
    "model": ("cell", "hidden_size", "num_layers", "bidirectional", "pooling", "embedding_dim", "embedding_dropout", "head_dropout", "dropout",
              "patch_size", "patch_shift", "patch_spectrum", "input_noise", "crop", "instance_norm", "differences", "relative_to", "ar_highway",
              "ar_highway_fit", "bag",
              "naive_bayes"),
    "optimizer": ("_target_", "lr", "weight_decay"),
    "data": ("batch_size", "val_fraction", "window", "scale", "seq_len", "tokenizer"),
    "trainer": ("max_epochs", "max_time", "val_check_interval"),
    "callbacks.early_stopping": ("monitor", "patience"),
}


def follow_model_choice(cfg: DictConfig) -> str | None:
    """`model=lstm` on the command line wins over a recipe's `model.cell` (a recipe cannot switch groups).

    Hydra lets a recipe chosen through `${data}` set keys only, so a recipe that prefers a GRU sets
    `model.cell: gru`, which would outrank the user's `model=lstm`. Here the cell the user named comes
    back (unless `model.cell=` itself is on the command line); returns the line that says so.
    """
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return None
    hydra_cfg = HydraConfig.get()
    overrides = list(hydra_cfg.overrides.task)
    chosen = hydra_cfg.runtime.choices.get("model")
    named = any(o.split("=", 1)[0].lstrip("+~") == "model" for o in overrides)
    cell_set = any(o.split("=", 1)[0].lstrip("+~") == "model.cell" for o in overrides)
    if not named or cell_set or chosen not in ("rnn", "lstm", "gru") or OmegaConf.select(cfg, "model.cell") == chosen:
        return None
    previous = cfg.model.cell
    cfg.model.cell = chosen
    return f"model={chosen} on the command line: model.cell={chosen} (the recipe's model.cell={previous} set aside)"


#: Which metric the run optimizes and in which direction: one choice (the recipe sets them together).
MONITOR_KEYS = ("monitor", "monitor_mode")


def metric_directions() -> dict[str, str]:
    """Each metric name any task kind logs (`loss`, `acc`, `rmse`, ...) -> `min` or `max`, the way it is better."""
    from seqtrain.kinds import kind_named, kind_names

    directions: dict[str, set[str]] = {}
    for name in kind_names():
        for metric, better in kind_named(name).logged().items():
            directions.setdefault(metric, set()).add(better)
    return {metric: next(iter(ways)) for metric, ways in directions.items() if len(ways) == 1}


def follow_monitor_choice(cfg: DictConfig) -> str | None:
    """`monitor=<stage>/<metric>` on the command line without `monitor_mode`: the direction is the metric's own.

    The recipe sets `monitor_mode` for its own monitor (tagging's `val/acc`: max), so `monitor=val/loss` alone kept
    max and was refused three times over (monitor_mode and the two callbacks that follow it). A metric whose direction
    is known (every task kind logs `loss` as min, `acc` and `f1` as max, ...) sets it, said in one line; one given
    on the command line, or an unknown metric (the checks name what is allowed), is left as it is."""
    command_line = command_line_keys()
    if "monitor" not in command_line or "monitor_mode" in command_line or not isinstance(cfg.monitor, str):
        return None
    metric = cfg.monitor.rsplit("/", 1)[-1]
    better = metric_directions().get(metric)
    if better is None or better == cfg.monitor_mode:
        return None
    previous, cfg.monitor_mode = cfg.monitor_mode, better
    return (f"monitor={cfg.monitor} on the command line: monitor_mode={better} ({metric} is better "
            f"when {'lower' if better == 'min' else 'higher'}; the recipe's monitor_mode={previous} was for its own monitor)")


def pool_per_step_targets(cfg: DictConfig) -> str | None:
    """A recipe's pooling by `data.task` (`${recipe.pooling.${data.task}}`) is for one target per sequence: with a
    target per step (`data=table data.task=regression data.per_step=true`) the run has none, where the check refused
    the `max` the user never typed. Returns the line that says so; a pooling from the command line is judged as given."""
    from seqtrain.config import data_targets

    raw = OmegaConf.to_container(cfg, resolve=False).get("model", {}).get("pooling")
    if not (isinstance(raw, str) and raw.startswith("${recipe.pooling.")) or "model.pooling" in command_line_keys():
        return None
    targets = data_targets(OmegaConf.to_container(cfg.data, resolve=True))
    if targets is None or not targets.per_step or cfg.model.pooling is None:
        return None
    pooling, cfg.model.pooling = cfg.model.pooling, None
    return (f"model.pooling=null: the recipe's pooling ({pooling}, for one target per sequence) does not apply to "
            f"{targets.source}, which gives a target per step")


def describe_recipe(cfg: DictConfig) -> str:
    """Which recipe the run uses, why, and the settings it resolves to: one block for the log."""
    from hydra.core.hydra_config import HydraConfig

    why = f"recipe={cfg.recipe.name}"
    if HydraConfig.initialized():  # train() called from Python without Hydra has no choices to report
        choices = HydraConfig.get().runtime.choices
        why = f"data={choices.get('data')} -> recipe={choices.get('recipe')}, experiment={choices.get('experiment')}"
    if cfg.recipe.about is None:  # `optional recipe: ${data}` found no configs/recipe/<data>.yaml
        lines = [
            f"recipe: none for this data ({why}: no configs/recipe/{cfg.recipe.name}.yaml), so the config groups' "
            "own defaults apply; pass recipe=table, text or forecast for the defaults for your own files"
        ]
    else:
        lines = [f"recipe: {cfg.recipe.about} ({why})"]
    for group, keys in RECIPE_KEYS.items():
        node = OmegaConf.select(cfg, group)
        if node is not None:
            values = {k: OmegaConf.select(node, k) for k in keys if k in node}
            if values.get("patch_size") == "auto":  # chosen once the data is read, from this target length
                values["patch_size"] = f"auto(recipe.patch_steps={OmegaConf.select(cfg, 'recipe.patch_steps')})"
            lines.append(f"  {group}: " + " ".join(f"{k}={v}" for k, v in values.items()))
    if (scaling := OmegaConf.select(cfg, "task.random_scaling", default=None)) is not None:
        lines.append(f"  task: random_scaling={scaling} (each training window and its target times a factor in [1/{scaling}, {scaling}])")
    if settings := text_recipe_settings(cfg):  # settled once the data is read (seqtrain.run)
        lines.append("  text classification (token inputs, found once the data is read): "
                     + " ".join(f"{k}={v}" for k, v in settings.items()))
    if line := describe_text_spacing(cfg):
        lines.append(line)
    if line := describe_small_set(cfg):
        lines.append(line)
    if OmegaConf.select(cfg, "callbacks.early_stopping") is None:
        lines.append(f"  no early stopping: all trainer.max_epochs={cfg.trainer.max_epochs} epochs")
    # The rules above that apply once the data is read may set another monitor (text: val/acc; small sets: train/loss):
    # this line is the config as it stands, and each rule that applies says what it changed.
    changes_monitor = any("monitor" in rule for rule in (settings or {}, small_set_settings(cfg) or {}))
    unless = ", unless a rule above that applies once the data is read sets another monitor" if changes_monitor else ""
    lines.append(f"  {evaluated_weights(cfg)} is evaluated{unless}; lr_find={cfg.lr_find}")
    return "\n".join(lines)


def evaluated_weights(cfg: DictConfig) -> str:
    """Which weights the run tests (seqtrain.run.best_checkpoint): the best by `monitor` when a `ModelCheckpoint` keeps
    one, else the weights at the end of training (the line said "the best checkpoint" for those too)."""
    from seqtrain.config import model_checkpoints

    kept = model_checkpoints(cfg)
    if not kept:
        return "no ModelCheckpoint among the callbacks keeps a best checkpoint: the model as training left it"
    name, node = kept[0]
    if node.get("save_top_k", 1) == 0:
        return f"callbacks.{name}.save_top_k=0 keeps no checkpoint: the model as training left it"
    return f"the best checkpoint by {cfg.monitor} ({cfg.monitor_mode})"


def auto_patch_size(facts: Any, train_lengths: Sequence[int], patched_steps: int) -> tuple[int, str]:
    """`model.patch_size=auto`: the patch size for this data, and why (for the run's log line).

    Real-valued inputs with one target per sequence: the smallest k that makes the median training
    sequence at most `patched_steps` (`recipe.patch_steps`) patched steps long, so a 251-step series
    becomes 42 steps of 6 values at 48 and a 20-step one stays as it is. Anything else is not patched
    (token ids do not add up into one input; a per-step target has no patched step of its own).
    """
    if facts.vocab_size is not None:
        return 1, "token inputs are not patched"
    if facts.per_step:
        return 1, f"{facts.task} with a target per step is not patched"
    if not train_lengths:
        raise DataError("model.patch_size=auto needs the training sequences' lengths, and the training split is empty")
    ordered = sorted(train_lengths)
    median = ordered[len(ordered) // 2]
    k = max(1, -(-median // patched_steps))  # ceil
    lengths = f"median training length {median} steps (of {ordered[0]}-{ordered[-1]}), recipe.patch_steps={patched_steps}"
    if k == 1:
        return 1, f"{lengths}: short enough, not patched"
    return k, f"{lengths}: {-(-median // k)} patched steps of {k} x {facts.num_features} feature(s)"


def patch_size_problems(size: int, train_lengths: Sequence[int]) -> tuple[str | None, str | None]:
    """A patch size given as a number, against the training sequences' lengths: (refusal, warning), either None.

    A row no longer than k is one zero-filled patch, so the recurrence reads a single step for it: with every training
    row so (k = 50 on rows of 5-12 steps) the model is no sequence model at all; with most of them, it is for most
    rows. `auto` never gets here (its k is at most the median length / `recipe.patch_steps`).
    """
    if size <= 1 or not train_lengths:
        return None, None
    ordered = sorted(train_lengths)
    shortest, longest, median = ordered[0], ordered[-1], ordered[len(ordered) // 2]
    whole = sum(length <= size for length in ordered)
    lengths = f"lengths {shortest}-{longest} steps, median {median}"
    if whole == len(ordered):
        instead = f"below {longest}" if longest > 1 else "1"
        return (f"model.patch_size={size}: every training sequence ({len(ordered)} of them, {lengths}) fits in one patch of "
                f"{size} steps, so the recurrence would read a single zero-filled step per row; set model.patch_size "
                f"{instead}, or model.patch_size=auto (the smallest that makes the median training sequence at most "
                f"recipe.patch_steps patched steps)"), None
    if 2 * whole > len(ordered):
        return None, (f"model.patch_size={size}: {whole} of {len(ordered)} training sequences ({lengths}) fit in one "
                      f"patch of {size} steps: the recurrence reads a single zero-filled step for each of them")
    return None, None


TEXT_RECIPE = "recipe.text_classification"
# Text classification settings by how the training text is written (`spaced_share`, `spaced`, `unspaced`).
TEXT_SPACING = "recipe.text_by_spacing"
# The naive Bayes, which counts the words subword pieces spell (`model.naive_bayes=words`) where the tokenizer allows.
NAIVE_BAYES_KEY = "model.naive_bayes"
# Set together or not at all: one of them on the command line keeps the others as configured.
TOKENIZER_KEYS = ("data.tokenizer", "data.max_vocab_size", "data.min_frequency")


def text_recipe_settings(cfg: DictConfig, spaced: bool | None = None) -> dict[str, Any]:
    """`recipe.text_classification` as dotted keys -> values (empty when the recipe has none), joined by the
    `recipe.text_by_spacing` branch for text whose words are `spaced` (or not); None: the general block alone."""
    from seqtrain.resume_checks import flatten

    node = OmegaConf.select(cfg, TEXT_RECIPE, default=None)
    settings = {} if node is None else flatten(OmegaConf.to_container(node, resolve=True))
    branches = OmegaConf.select(cfg, TEXT_SPACING, default=None)
    if branches is not None and spaced is not None:
        settings.update(flatten(OmegaConf.to_container(branches["spaced" if spaced else "unspaced"], resolve=True)))
    return settings


def text_recipe_keys(cfg: DictConfig) -> set[str]:
    """Every dotted key the text classification settings may set, whichever way the text is written (for resumes)."""
    return {*text_recipe_settings(cfg), *text_recipe_settings(cfg, True), *text_recipe_settings(cfg, False)}


def describe_text_spacing(cfg: DictConfig) -> str | None:
    """The `recipe.text_by_spacing` rule in one line of the start-of-run block (None: the recipe has none)."""
    branches = OmegaConf.select(cfg, TEXT_SPACING, default=None)
    if branches is None:
        return None
    general = text_recipe_settings(cfg)
    said = {spaced: " ".join(f"{k}={v}" for k, v in text_recipe_settings(cfg, spaced).items() if k not in general or general[k] != v)
            for spaced in (True, False)}
    return (f"  text classification by its training text: words separated by spaces (whitespace >= "
            f"{branches.spaced_share:.0%} of the characters): {said[True]}; running text (Chinese, ...): {said[False]}")


def settle_text_recipe(cfg: DictConfig, config: dict[str, Any], vocab_size: int | None, task: str,
                       command_line: set[str], sweep: str | None = None, spacing: float | None = None) -> str | None:
    """Text classification (token inputs, one label per sequence): the recipe's `text_classification` settings
    replace its general ones for this run, in `cfg` and in the resolved `config` (which checkpoints keep).

    `spacing`, the share of whitespace among the training text's characters (None: not text, or not known), picks
    the `recipe.text_by_spacing` branch that joins them: at least `spaced_share`, words separated by spaces
    (English), else running text (Chinese). Its `data.*` keys (the tokenizer) mean the data is read again with them
    (seqtrain.run does that).

    Known only once the data is read (or from a resumed checkpoint's facts), like `model.patch_size=auto`. A key
    given in `command_line` wins, and a sweep (`hparams_search=<sweep>`) keeps its config's settings: what it
    optimizes (`monitor`) and in which direction are its own. Returns the line that says what was set and why; None
    when nothing changes (numbers, another task kind, no such block, or settled already), so a second call says nothing.
    """
    branches = OmegaConf.select(cfg, TEXT_SPACING, default=None)
    spaced = None if branches is None or spacing is None else bool(spacing >= branches.spaced_share)
    settings = text_recipe_settings(cfg, spaced)
    if not settings or vocab_size is None or task != "classification":
        return None
    if sweep is not None:
        return (f"{TEXT_RECIPE} not applied: hparams_search={sweep} sets what the sweep optimizes "
                f"(monitor={cfg.monitor}, monitor_mode={cfg.monitor_mode})")
    given = set(command_line)
    if given & set(TOKENIZER_KEYS):  # a tokenizer is one choice: a vocabulary size is not joined to another kind's
        given |= set(TOKENIZER_KEYS)
    if given & set(MONITOR_KEYS):  # so is what to optimize: a monitor keeps its direction (`follow_monitor_choice`)
        given |= set(MONITOR_KEYS)
    # A key set on the command line wins over the setting it names, one inside it, or the node holding it when it
    # dropped that node (`~callbacks.early_stopping` keeps the run without early stopping, and so without its
    # patience); a group's choice (`data=table`, `model=gru`) leaves its node there, and the settings inside it apply.
    def covers(c: str, k: str) -> bool:
        return c == k or c.startswith(k + ".") or (k.startswith(c + ".") and OmegaConf.select(cfg, c) is None)

    kept = sorted(k for k in settings if any(covers(c, k) for c in given))
    # A naive Bayes over the words subword pieces spell needs subword pieces: with the command line's characters or
    # words it counts tokens and token pairs (bigrams), and the line says why.
    from seqtrain.config import SUBWORD_TOKENIZERS

    tokenizer = settings["data.tokenizer"] if "data.tokenizer" in settings and "data.tokenizer" not in kept \
        else OmegaConf.select(cfg, "data.tokenizer", default=None)
    unspelled = settings.get(NAIVE_BAYES_KEY) == "words" and NAIVE_BAYES_KEY not in kept and tokenizer not in SUBWORD_TOKENIZERS
    if unspelled:
        settings[NAIVE_BAYES_KEY] = "bigrams"
    changed = {k: v for k, v in settings.items() if k not in kept and OmegaConf.select(cfg, k) != v
               and OmegaConf.select(cfg, k.rpartition(".")[0] or k) is not None}  # nothing to set inside a dropped node
    if not changed:
        return None
    apply_settings(cfg, config, changed)
    why = "this data is text with one label per sequence"
    if spaced is not None:
        how = "words separated by spaces" if spaced else "running text, not words separated by spaces"
        why += (f"; {how}: {spacing:.1%} of its training characters are whitespace "
                f"({TEXT_SPACING}.spaced_share={branches.spaced_share})")
    if unspelled:
        why += f"; {NAIVE_BAYES_KEY}={settings[NAIVE_BAYES_KEY]}, not words: data.tokenizer={tokenizer} gives no subword pieces to spell words"
    line = f"{TEXT_RECIPE}: " + " ".join(f"{k}={v}" for k, v in changed.items()) + f" ({why})"
    if kept:
        keys = sorted(c for c in given if any(covers(c, k) for k in kept))
        named, joined = [c for c in keys if c in command_line], [c for c in keys if c not in command_line]
        line += "; kept from the command line: " + " ".join(f"{k}={OmegaConf.select(cfg, k)}" for k in named)
        if joined:
            line += " (and with it " + " ".join(f"{k}={OmegaConf.select(cfg, k)}" for k in joined) + ")"
    return line


SMALL_SET = "recipe.small_classification"
# What a user says about validating: given on the command line (or a validation split of their own), the rule stays off.
VALIDATION_KEYS = ("data.val_fraction", "data.val_files", "monitor", "monitor_mode")


def given(key: str, command_line: set[str]) -> bool:
    """Whether the command line sets `key` or a key inside it (`scheduler=cosine`, `callbacks.early_stopping.patience=5`)."""
    return any(c == key or c.startswith(key + ".") for c in command_line)


def small_set_settings(cfg: DictConfig) -> dict[str, Any]:
    """`recipe.small_classification.settings`: dotted keys (a key may hold a whole node, like `scheduler`) -> values;
    {} without one. An escaped interpolation there (`T_max: \\${trainer.max_epochs}`) comes out as one, so the
    schedule follows the run's epochs, while the recipe's own block stays the same whatever the epochs (a resume
    that changes them changes nothing in it)."""
    node = OmegaConf.select(cfg, f"{SMALL_SET}.settings", default=None)
    if node is None:
        return {}
    return dict(OmegaConf.to_container(node, resolve=True))


def many_classes(cfg: DictConfig) -> tuple[int, dict[str, Any]] | None:
    """`recipe.small_classification.multiclass`: (min_classes, settings added to the rule's from that many classes up);
    None without one."""
    node = OmegaConf.select(cfg, f"{SMALL_SET}.multiclass", default=None)
    if node is None or not node.get("settings"):
        return None
    return int(node.min_classes), dict(OmegaConf.to_container(node.settings, resolve=True))


def describe_small_set(cfg: DictConfig) -> str | None:
    """The `recipe.small_classification` rule in one line of the start-of-run block (None: the recipe has none)."""
    settings = small_set_settings(cfg)
    if not settings:
        return None
    line = (f"  small training sets of real-valued sequences with one label each (fewer than "
            f"{OmegaConf.select(cfg, SMALL_SET).below_rows} training rows, no validation split of their own): "
            + " ".join(f"{k}={short_setting(v)}" for k, v in settings.items()))
    many = many_classes(cfg)
    if many is not None:
        line += f"; from {many[0]} classes up also " + " ".join(f"{k}={short_setting(v)}" for k, v in many[1].items())
    return line


def short_setting(value: Any) -> str:
    """A setting for the log: a node by its leaves (`_partial_` left out), a class path by its name."""
    from seqtrain.resume_checks import flatten

    if isinstance(value, dict):
        leaves = {k: v for k, v in flatten(value).items() if not k.endswith("_partial_")}
        return "{" + ", ".join(f"{k}: {short_setting(v)}" for k, v in leaves.items()) + "}"
    return value.rsplit(".", 1)[-1] if isinstance(value, str) and value.startswith("torch.") else str(value)


def settle_small_set(cfg: DictConfig, config: dict[str, Any], facts: Any, train_rows: int | None, command_line: set[str],
                     sweep: str | None = None) -> str | None:
    """Classification of real-valued sequences from a small training set: the recipe's `small_classification`
    settings (no validation carve-out, a fixed schedule, the checkpoint by train/loss) replace its general ones for
    this run, in `cfg` and the resolved `config`. Known once the data is read, like the text settings.

    Not when the user says how to validate (`VALIDATION_KEYS` on the command line, or `data.val_files` / a hub
    dataset's own split), nor in a sweep (it optimizes a validation metric). Other keys given on the command line
    win one by one. Returns the line that says what was set and why (None when nothing applies)."""
    settings = small_set_settings(cfg)
    if (not settings or train_rows is None or not str(OmegaConf.select(cfg, "data._target_")).endswith("TableDataModule")
            or facts.vocab_size is not None or facts.task != "classification" or facts.per_step):
        return None  # data.val_fraction=0 is data=table's
    below = OmegaConf.select(cfg, SMALL_SET).below_rows
    if train_rows >= below:
        return None
    why = (f"{train_rows} rows to fit on (training and validation) of real-valued sequences with one label each, fewer "
           f"than {SMALL_SET}.below_rows={below}")
    named = sorted(k for k in VALIDATION_KEYS if k in command_line)
    own = [k for k in ("data.val_files", "data.hub") if OmegaConf.select(cfg, k, default=None)]
    if sweep is not None or named or own:
        reason = (f"hparams_search={sweep} optimizes a validation metric" if sweep is not None else
                  f"{' '.join(f'{k}={OmegaConf.select(cfg, k)}' for k in named)} on the command line" if named else
                  "data.val_files gives the validation split" if own[0] == "data.val_files" else
                  "data.hub: a hub dataset keeps its own splits")
        return f"{SMALL_SET} not applied ({why}): {reason}"
    classes, many = facts.num_outputs, many_classes(cfg)
    if many is not None and classes >= many[0]:
        settings = {**settings, **many[1]}
        why += f"; {', '.join(many[1])} for {classes} classes, at least {SMALL_SET}.multiclass.min_classes={many[0]}"
    elif many is not None:
        why += (f"; {classes} classes, fewer than {SMALL_SET}.multiclass.min_classes={many[0]}, so not "
                + " ".join(f"{k}={short_setting(v)}" for k, v in many[1].items()))
    kept = sorted(k for k in settings if given(k, command_line))
    changed = {k: v for k, v in settings.items() if k not in kept}
    epochs = OmegaConf.select(cfg, "trainer.max_epochs")
    if "trainer.max_epochs" in kept and epochs in (-1, None) and "scheduler" in changed:
        from seqtrain.config import ConfigError

        raise ConfigError(f"trainer.max_epochs={epochs} (no limit) on the command line, but {SMALL_SET} applies ({why}) and "
                          "trains on a cosine schedule that spans trainer.max_epochs: set it to a number of epochs (the "
                          "rule's is 150), or keep a validation carve-out with early stopping (data.val_fraction=0.2)")
    apply_settings(cfg, config, changed)
    line = f"{SMALL_SET}: " + " ".join(f"{k}={short_setting(v)}" for k, v in changed.items()) + f" ({why})"
    if kept:
        line += "; kept from the command line: " + ", ".join(kept)
    return line


def apply_settings(cfg: DictConfig, config: dict[str, Any], values: dict[str, Any]) -> None:
    """Set dotted keys in `cfg` (a value may be a whole node, replacing the one there; None for a callback drops it),
    and resolve the plain `config` (what checkpoints keep) again from it, so that interpolations reading these keys
    (callbacks' ${monitor}, the cosine schedule's T_max) follow."""
    from omegaconf import open_dict

    with open_dict(cfg):
        for key, value in values.items():
            if value is None and key.startswith("callbacks."):
                parent, _, name = key.rpartition(".")
                node = OmegaConf.select(cfg, parent)
                if node is not None and name in node:
                    del node[name]
            else:
                OmegaConf.update(cfg, key, value, merge=False)
    config.clear()
    config.update(OmegaConf.to_container(cfg, resolve=True))


def sweep_choice() -> str | None:
    """The `hparams_search` config this run is a trial of (None outside a Hydra run or a sweep)."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return None
    choice = HydraConfig.get().runtime.choices.get("hparams_search")
    return None if choice in (None, "null", "none") else str(choice)


def command_line_keys() -> set[str]:
    """The dotted keys the command line sets (empty outside a Hydra run), and those of a `debug=<name>` chosen there:
    `debug=smoke`'s one epoch of a few batches is asked for on the command line, so the rules settled once the data is
    read (`settle_small_set`'s 150 epochs) leave it as it is."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return set()
    hydra_cfg = HydraConfig.get()
    keys = {o.split("=", 1)[0].lstrip("+~") for o in hydra_cfg.overrides.task}
    if (debug := hydra_cfg.runtime.choices.get("debug")) is not None:
        from seqtrain.resume_checks import flatten

        for source in hydra_cfg.runtime.config_sources:
            path = Path(source.path) / "debug" / f"{debug}.yaml"
            if source.schema == "file" and path.is_file():
                debug_config = OmegaConf.to_container(OmegaConf.load(path), resolve=False)
                debug_config.pop("defaults", None)
                keys |= set(flatten(debug_config))
    return keys
