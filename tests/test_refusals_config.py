"""A corpus of bad config and script inputs: each is refused before any data is read, nothing is trained or
written, and the message names the key (or argument), the value and what is allowed.

Cases run in-process through `seqtrain.run.train(cfg)` with composed configs (fast); a few go through
`python train.py` and the scripts to prove the command-line path. `GROUPS` counts them per kind for the
README's promises table (`python -m pytest tests/test_refusals_config.py -k count -s` prints it).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from omegaconf import DictConfig

from conftest import ROOT, run_train
from seqtrain.config import ConfigError, check_options, check_targets

Compose = Callable[..., DictConfig]
no_gpu = pytest.mark.skipif(torch.cuda.is_available(), reason="refused only on a machine without a GPU")
VOWELS = ["experiment=none", "recipe=none", "data=vowels"]
SUNSPOTS = ["experiment=none", "recipe=none", "data=sunspots"]

# (kind, overrides, words the message must hold). Values a user might type, and combinations that cannot work.
CASES = [
    # --- top-level keys ---
    ("top-level", ["+foo=1"], ["foo: unknown top-level key", "known: seed"]),
    ("top-level", ["+epochs=3"], ["epochs: unknown top-level key"]),
    ("top-level", ["test=maybe"], ["test='maybe'", "valid boolean"]),
    ("top-level", ["seed=abc"], ["seed='abc'", "valid integer"]),
    ("top-level", ["seed=1.5"], ["seed=1.5"]),
    ("top-level", ["sample_length=-1"], ["sample_length=-1", "greater than or equal to 0"]),
    # a value that breaks an interpolation elsewhere (the table recipe's monitor and pooling read data.task), or one that
    # cannot resolve
    ("top-level", ["data=table", "data.task=regresion"],
     ["monitor='${recipe.monitor.${data.task}}' cannot be resolved", "'recipe.monitor.regresion' not found", "data.task='regresion'"]),
    ("top-level", ["model.hidden_size=${modle.embedding_dim}"], ["model.hidden_size='${modle.embedding_dim}' cannot be resolved"]),
    ("top-level", ["monitor=null"], ["monitor=None", "e.g. monitor=val/loss"]),
    ("top-level", ["monitor_mode=maximum"], ["monitor_mode='maximum'", "'min' or 'max'"]),
    ("top-level", ["+paths.log_dir=x"], ["paths.log_dir: unknown key", "known: output_dir"]),
    ("top-level", ["+task.tbptt=5"], ["task.tbptt: unknown key", "tbptt_steps"]),
    # --- model ---
    ("model", ["model.hidden_size=0"], ["model.hidden_size=0", "greater than or equal to 1"]),
    ("model", ["model.num_layers=-2"], ["model.num_layers=-2"]),
    ("model", ["model.dropout=1.0"], ["model.dropout=1.0", "less than 1"]),
    ("model", ["model.dropout=0.2"], ["model.dropout=0.2", "model.num_layers=1", "does nothing"]),
    ("model", ["model.num_layers=2", "model.dropout=-0.5"], ["model.dropout=-0.5"]),
    ("model", ["model.cell=LSTM"], ["model.cell='LSTM'", "'rnn', 'lstm' or 'gru'"]),
    ("model", ["model.embedding_dim=0"], ["model.embedding_dim=0"]),
    ("model", ["model.bias=1"], ["model.bias=1", "valid boolean"]),
    ("model", ["+model.hidden=64"], ["model.hidden: unknown key", "hidden_size"]),
    ("model", ["model=gru", "model.nonlinearity=relu"], ["model.nonlinearity='relu'", "cell='rnn' only"]),
    ("model", ["model._target_=seqtrain.models.NoSuchModel"], ["model._target_='seqtrain.models.NoSuchModel'", "cannot be imported"]),
    # --- what a task kind accepts (known from the data config before any data is read) ---
    ("task kind", ["data=shakespeare", "data.stateful=false", "model.bidirectional=true"],
     ["model.bidirectional=true", "TextDataModule", "language_modeling", "next inputs"]),
    ("task kind", ["experiment=none", "recipe=none", "data=sunspots", "data.mode=many_to_many", "model.bidirectional=true"],
     ["model.bidirectional=true", "ForecastDataModule(mode=many_to_many)", "next inputs"]),
    ("task kind", [*VOWELS, "model.head=many_to_many"], ["model.head=many_to_many", "one target per sequence", "many_to_one"]),
    ("task kind", ["data=shakespeare", "data.stateful=false", "model.head=many_to_one"],
     ["model.head=many_to_one", "a target per step"]),
    ("task kind", ["experiment=none", "recipe=none", "data=truecase", "model.pooling=mean"], ["model.pooling=mean", "many_to_one heads only"]),
    ("task kind", ["experiment=none", "recipe=none", "data=parity", "data.per_step=true", "model.head=many_to_one"],
     ["model.head=many_to_one", "ParityDataModule(per_step=true)", "tagging"]),
    ("task kind", [*VOWELS, "model.tie_weights=true", "model.hidden_size=64"],
     ["model.tie_weights=true", "language_modeling", "classification"]),
    ("task kind", [*SUNSPOTS, "model.tie_weights=true", "model.hidden_size=64"], ["model.tie_weights=true", "regression"]),
    ("task kind", ["model.tie_weights=true", "model.hidden_size=32", "model.embedding_dim=64"],
     ["model.tie_weights=true needs model.embedding_dim == hidden_size (or proj_size) x directions (32)"]),
    ("task kind", [*VOWELS, "task.tbptt_steps=5"], ["task.tbptt_steps=5", "one per sequence", "set task.tbptt_steps=null"]),
    ("task kind", ["task.label_smoothing=0.1"], ["task.label_smoothing=0.1", "language_modeling", "perplexity is read from the loss"]),
    ("task kind", [*SUNSPOTS, "task.label_smoothing=0.1"], ["task.label_smoothing=0.1", "regression", "not classes"]),
    ("task kind", ["data=table", "data.task=regression", "task.label_smoothing=0.2"], ["task.label_smoothing=0.2", "regression"]),
    ("task kind", [*VOWELS, "task.label_smoothing=1.0"], ["task.label_smoothing=1.0", "less than 1"]),
    ("task kind", [*VOWELS, "task.label_smoothing=-0.1"], ["task.label_smoothing=-0.1", "greater than or equal to 0"]),
    ("task kind", [*VOWELS, "task.label_smoothing=some"], ["task.label_smoothing='some'"]),
    ("task kind", [*VOWELS, "task.random_scaling=1.3"], ["task.random_scaling=1.3", "classification", "not values to scale",
                                                         "set task.random_scaling=null"]),
    ("task kind", ["experiment=none", "recipe=none", "data=truecase", "task.random_scaling=1.2"], ["task.random_scaling=1.2", "tagging"]),
    ("task kind", ["task.random_scaling=1.3"], ["task.random_scaling=1.3", "language_modeling"]),
    ("task kind", [*SUNSPOTS, "task.random_scaling=1"], ["task.random_scaling=1", "greater than 1"]),
    ("task kind", [*SUNSPOTS, "task.random_scaling=0.8"], ["task.random_scaling=0.8", "greater than 1"]),
    ("task kind", [*SUNSPOTS, "task.random_scaling=big"], ["task.random_scaling='big'", "valid number"]),
    ("task kind", ["experiment=none", "recipe=none", "data=adding", "task.tbptt_steps=10"], ["task.tbptt_steps=10", "regression"]),
    ("task kind", ["data=shakespeare", "model.bidirectional=true"], ["model.bidirectional=true"]),
    ("task kind", ["experiment=none", "recipe=none", "data=table", "data.task=tagging", "model.head=many_to_one"],
     ["model.head=many_to_one", "TableDataModule(task=tagging)"]),
    # --- input patching (model.patch_size): real-valued inputs, whole sequences, one target per sequence ---
    ("model", ["model.patch_size=0"], ["model.patch_size=0", "integer >= 1", "or auto"]),
    ("model", ["model.patch_size=2.5"], ["model.patch_size=2.5", "integer >= 1"]),
    ("model", ["model.patch_size=big"], ["model.patch_size='big'", "or auto"]),
    ("model", ["model.patch_shift=yes"], ["model.patch_shift='yes'", "bool"]),
    ("model", ["model.patch_shift=1"], ["model.patch_shift=1", "bool"]),
    ("model", ["model.patch_spectrum=yes"], ["model.patch_spectrum='yes'", "bool"]),
    ("model", ["model.differences=yes"], ["model.differences='yes'", "'inputs', 'inputs2' or 'shape'"]),
    ("model", ["model.differences=true"], ["model.differences=True", "'inputs', 'inputs2' or 'shape'"]),
    ("model", ["experiment=none", "data=table", "model.differences=shape", "model.instance_norm=null"],
     ["model.differences=shape", "model.instance_norm=null", "set model.instance_norm"]),
    ("model", ["model.input_noise=-0.1"], ["model.input_noise=-0.1", "greater than or equal to 0"]),
    ("model", ["model=gru", "model.proj_size=8"], ["model.proj_size=8", "cell=lstm and proj_size < hidden_size", "cell=gru"]),
    ("model", ["model=lstm", "model.hidden_size=64", "model.proj_size=64"], ["model.proj_size=64", "hidden_size=64", "set model.proj_size=0"]),
    ("model", ["model=lstm", "model.proj_size=-1"], ["model.proj_size=-1", "greater than or equal to 0"]),
    ("model", ["model.instance_norm=zscore"], ["model.instance_norm='zscore'", "'shape', 'shape_level' or 'shape_values'"]),
    ("task kind", [*SUNSPOTS, "model.relative_to=last", "model.instance_norm=shape"], ["model.instance_norm=shape", "model.relative_to=last", "both re-level"]),
    ("task kind", ["experiment=none", "data=forecast", "data.train_files=series.csv", "model.instance_norm=shape_level"],
     ["model.instance_norm=shape_level", "model.relative_to=auto", "both re-level"]),
    ("task kind", ["experiment=none", "data=table", "data.task=tagging", "model.patch_size=4"],
     ["model.patch_size=4", "TableDataModule(task=tagging)", "a target per step", "set model.patch_size=1"]),
    ("task kind", ["data=shakespeare", "data.stateful=false", "model.patch_size=3"],
     ["model.patch_size=3", "TextDataModule", "language_modeling"]),
    ("task kind", [*SUNSPOTS, "data.mode=many_to_many", "model.patch_size=2"], ["model.patch_size=2", "mode=many_to_many", "a target per step"]),
    ("task kind", ["experiment=none", "data=table", "data.sequence_kind=text", "model.patch_size=4"],
     ["model.patch_size=4", "data.sequence_kind=text", "token ids"]),
    ("task kind", ["data=shakespeare", "model.patch_size=4"], ["model.patch_size=4", "data.stateful=true"]),
    ("task kind", ["data=shakespeare", "data.stateful=false", "task.tbptt_steps=16", "model.patch_size=4"],
     ["model.patch_size=4", "task.tbptt_steps=16"]),
    ("task kind", ["data=table", "model.patch_size=auto", "recipe.patch_steps=0"], ["model.patch_size=auto", "recipe.patch_steps=0"]),
    # --- fastText's bag beside the RNN (model.bag): token inputs, one target per sequence ---
    ("model", ["model.bag=trigrams"], ["model.bag='trigrams'", "'unigrams' or 'bigrams'"]),
    ("model", ["model.bag_buckets=0"], ["model.bag_buckets=0", "greater than or equal to 1"]),
    # no input layer on token ids: refused by the model's constructor only after the data was read, in Hydra's wrapping
    ("task kind", ["model.embedding_dim=null"], ["model.embedding_dim=null", "data=seqtrain.data.TextDataModule gives token ids"]),
    ("task kind", ["experiment=none", "data=table", "data.sequence_kind=tokens", "model.embedding_dim=null"],
     ["model.embedding_dim=null", "data.sequence_kind=tokens gives token ids", "set model.embedding_dim"]),
    ("model", ["model.bag=bigrams", "model.head=many_to_many"], ["model.bag=bigrams", "many_to_one", "set model.bag=null"]),
    ("task kind", ["data=shakespeare", "data.stateful=false", "model.bag=unigrams"],
     ["model.bag=unigrams", "TextDataModule", "a target per step", "set model.bag=null"]),
    ("task kind", ["experiment=none", "data=table", "data.task=tagging", "model.bag=bigrams"],
     ["model.bag=bigrams", "TableDataModule(task=tagging)", "set model.bag=null"]),
    ("task kind", ["experiment=none", "data=table", "data.sequence_kind=numbers", "model.bag=bigrams"],
     ["model.bag=bigrams", "data.sequence_kind=numbers", "real-valued", "set model.bag=null"]),
    # --- a naive Bayes beside the RNN (model.naive_bayes): token inputs, one class label per sequence ---
    ("model", ["model.naive_bayes=trigrams"], ["model.naive_bayes='trigrams'", "'unigrams', 'bigrams' or 'words'"]),
    ("model", ["model.naive_bayes=bigrams", "model.head=many_to_many"], ["model.naive_bayes=bigrams", "many_to_one",
                                                                         "set model.naive_bayes=null"]),
    ("task kind", ["data=shakespeare", "data.stateful=false", "model.naive_bayes=unigrams"],
     ["model.naive_bayes=unigrams", "TextDataModule", "a target per step", "set model.naive_bayes=null"]),
    ("task kind", ["experiment=none", "data=table", "data.task=regression", "data.sequence_kind=text", "model.naive_bayes=bigrams"],
     ["model.naive_bayes=bigrams", "TableDataModule(task=regression)", "is regression", "set model.naive_bayes=null"]),
    ("task kind", ["experiment=none", "data=table", "data.task=tagging", "model.naive_bayes=bigrams"],
     ["model.naive_bayes=bigrams", "TableDataModule(task=tagging)", "set model.naive_bayes=null"]),
    ("task kind", ["experiment=none", "data=table", "data.sequence_kind=numbers", "model.naive_bayes=bigrams"],
     ["model.naive_bayes=bigrams", "data.sequence_kind=numbers", "real-valued", "set model.naive_bayes=null"]),
    # --- monitor: a metric the kind logs while fitting, watched the right way ---
    ("monitor", [*SUNSPOTS, "monitor=val/acc"], ["monitor='val/acc'", "regression", "val/rmse"]),
    ("monitor", [*VOWELS, "monitor=val/ppl"], ["monitor='val/ppl'", "classification", "val/acc"]),
    ("monitor", ["monitor=val/acc"], ["monitor='val/acc'", "language_modeling", "val/bpt"]),
    ("monitor", ["monitor=test/loss"], ["monitor='test/loss'", "while fitting"]),
    ("monitor", ["monitor=loss"], ["monitor='loss'", "must name a metric"]),
    ("monitor", [*VOWELS, "monitor=val/acc", "monitor_mode=min"], ["monitor_mode='min' with monitor='val/acc'", "set monitor_mode=max"]),
    ("monitor", ["monitor_mode=max"], ["monitor_mode='max' with monitor='val/loss'", "set monitor_mode=min"]),
    ("monitor", [*VOWELS, "callbacks=early_stopping", "callbacks.early_stopping.monitor=val/mse"],
     ["callbacks.early_stopping.monitor='val/mse'", "classification"]),
    # the best checkpoint is monitor's: a ModelCheckpoint watching another metric, or none, was tested and reported as it
    ("monitor", ["callbacks.model_checkpoint.monitor=null"],
     ["callbacks.model_checkpoint.monitor=None keeps the last epoch's weights", "monitor='val/loss'"]),
    ("monitor", [*VOWELS, "callbacks.model_checkpoint.monitor=val/acc", "callbacks.model_checkpoint.mode=max"],
     ["callbacks.model_checkpoint.monitor='val/acc', but monitor='val/loss'", "set monitor=val/acc"]),
    ("monitor", [*VOWELS, "monitor=val/acc", "monitor_mode=max", "callbacks.model_checkpoint.mode=min"],
     ["callbacks.model_checkpoint.mode='min', but monitor_mode='max'", "set callbacks.model_checkpoint.mode=max"]),
    ("monitor", ["callbacks.model_checkpoint.mode=up"], ["callbacks.model_checkpoint.mode='up'", "set callbacks.model_checkpoint.mode=min"]),
    # --- optimizer ---
    ("optimizer", ["optimizer.lr=0"], ["optimizer.lr=0", "must be > 0"]),
    ("optimizer", ["optimizer.lr=-1"], ["optimizer.lr=-1", "must be > 0"]),
    ("optimizer", ["optimizer.weight_decay=-1"], ["optimizer.weight_decay=-1", ">= 0"]),
    ("optimizer", ["optimizer.betas=[0.9,1.5]"], ["optimizer.betas=[0.9, 1.5]", "two numbers in [0, 1)"]),
    ("optimizer", ["optimizer.betas=[0.9]"], ["optimizer.betas=[0.9]", "two numbers"]),
    ("optimizer", ["optimizer=sgd", "optimizer.momentum=-0.5"], ["optimizer.momentum=-0.5", "in [0, 1)"]),
    ("optimizer", ["optimizer=sgd", "optimizer.momentum=2"], ["optimizer.momentum=2: must be in [0, 1)"]),
    ("optimizer", ["+optimizer.eps=0"], ["optimizer.eps=0", "> 0"]),
    ("optimizer", ["optimizer.lr=fast"], ["optimizer.lr='fast'"]),
    # gradient ascent on the loss: trained away from the data with exit status 0
    ("optimizer", ["+optimizer.maximize=true"], ["optimizer.maximize=true steps up the loss", "drop it"]),
    # inf passed every `> 0` / `>= 0` range: the run read the data and diverged at its first step
    ("optimizer", ["optimizer.lr=inf"], ["optimizer.lr=inf: must be a finite number > 0"]),
    ("optimizer", ["optimizer.weight_decay=inf"], ["optimizer.weight_decay=inf: must be a finite number >= 0"]),
    ("model", ["model.input_noise=inf"], ["model.input_noise=inf", "finite number"]),
    ("trainer", ["trainer.gradient_clip_val=inf"], ["trainer.gradient_clip_val=inf", "finite number"]),
    ("data", ["data.batch_size=inf"], ["data.batch_size=inf: must be a finite number >= 1"]),
    ("optimizer", ["+optimizer.momentum=0.9"], ["optimizer.momentum: unknown key for torch.optim.AdamW"]),
    ("optimizer", ["optimizer._target_=torch.optim.Adamm"], ["optimizer._target_='torch.optim.Adamm'", "cannot be imported"]),
    ("optimizer", ["optimizer=sgd", "optimizer.momentum=0.0", "+optimizer.nesterov=true"], ["optimizer (torch.optim.SGD)", "Nesterov momentum requires"]),
    # --- scheduler ---
    ("scheduler", ["scheduler.interval=batch"], ["scheduler.interval='batch'", "'epoch' or 'step'"]),
    ("scheduler", ["+scheduler.frequency=2"], ["scheduler.frequency: unknown key", "known: scheduler, interval"]),
    ("scheduler", ["scheduler=cosine", "+scheduler.scheduler.T_maxx=3"], ["scheduler.scheduler.T_maxx: unknown key"]),
    ("scheduler", ["scheduler=plateau", "scheduler.interval=step"], ["scheduler.interval=step with ReduceLROnPlateau", "epoch"]),
    ("scheduler", ["scheduler=plateau", "scheduler.scheduler.factor=2.0"], ["scheduler.scheduler.factor=2.0: must be in (0, 1)"]),
    # a value the user never typed there is named with the key it is read from
    ("scheduler", ["scheduler=cosine", "trainer.max_epochs=-1", "trainer.max_steps=100"],
     ["scheduler.scheduler.T_max=-1 (from ${trainer.max_epochs}): must be >= 1"]),
    ("scheduler", ["scheduler=cosine", "trainer.max_epochs=null", "trainer.max_steps=100"],
     ["scheduler.scheduler.T_max=None (from ${trainer.max_epochs}): Input should be a valid integer"]),
    # scheduler=cosine's T_max is the run's epochs: stepped every batch, the LR cycled down and up every max_epochs batches
    ("scheduler", ["scheduler=cosine", "scheduler.interval=step"],
     ["scheduler.scheduler.T_max=${trainer.max_epochs} counts epochs, but scheduler.interval=step", "rise again", "scheduler.interval=epoch"]),
    # ReduceLROnPlateau steps on `monitor`: a mode against monitor_mode cut the learning rate while the metric improved
    ("scheduler", ["scheduler=plateau", "scheduler.scheduler.mode=max"],
     ["scheduler.scheduler.mode='max' with monitor='val/loss' (monitor_mode='min')", "set scheduler.scheduler.mode=min"]),
    ("scheduler", [*VOWELS, "scheduler=plateau", "~scheduler.scheduler.mode", "monitor=val/acc", "monitor_mode=max"],
     ["scheduler.scheduler.mode='min' (torch default) with monitor='val/acc'", "set scheduler.scheduler.mode=max"]),
    ("scheduler", ["scheduler=cosine", "scheduler.scheduler.T_max=ten"], ["scheduler.scheduler.T_max='ten'"]),
    # ReduceLROnPlateau steps at every epoch's end on monitor: an epoch without validation has none (Lightning stopped
    # the run after it with a MisconfigurationException; under truncated BPTT, a KeyError)
    ("scheduler", ["scheduler=plateau", "trainer.check_val_every_n_epoch=2"],
     ["scheduler=plateau (ReduceLROnPlateau) with trainer.check_val_every_n_epoch=2 and monitor=val/loss",
      "set trainer.check_val_every_n_epoch=1", "monitor=train/loss"]),
    ("scheduler", ["scheduler=plateau", "trainer.check_val_every_n_epoch=null", "trainer.val_check_interval=00:00:01:00"],
     ["trainer.check_val_every_n_epoch=None and monitor=val/loss"]),
    # --- trainer ---
    ("trainer", ["trainer.max_epochs=0"], ["trainer.max_epochs=0 trains nothing"]),
    ("trainer", ["trainer.gradient_clip_val=null", "trainer.gradient_clip_algorithm=value"],
     ["trainer.gradient_clip_algorithm=value", "trainer.gradient_clip_val=null clips nothing"]),
    # the trainer's switches against the run's callbacks: Lightning refused them only once the data was read
    ("trainer", ["+trainer.enable_checkpointing=false"],
     ["configured with `enable_checkpointing=False` but found `ModelCheckpoint`", "drop callbacks.model_checkpoint and callbacks.last_checkpoint"]),
    ("trainer", ["+trainer.enable_progress_bar=false"],
     ["configured with `enable_progress_bar=False` but found `TQDMProgressBar`", "drop callbacks.progress_bar"]),
    ("trainer", ["trainer.max_epochs=-1"], ["trainer.max_epochs=-1", "never stops"]),
    ("trainer", ["trainer.max_epochs=null"], ["trainer.max_epochs=None", "never stops"]),
    ("trainer", ["trainer.max_epochs=-5"], ["trainer.max_epochs=-5"]),
    ("trainer", ["trainer.max_steps=0"], ["trainer.max_steps=0 trains nothing"]),
    ("trainer", ["trainer.precision=17"], ["trainer.precision=17"]),
    # Adam's eps=1e-8 is 0 in float16: 16-true trained to a NaN gradient at the first steps (SGD has no eps and trains)
    ("trainer", ["trainer.precision=16-true"],
     ["optimizer.eps=1e-08 (torch.optim.AdamW's default; not set) with trainer.precision=16-true", "set optimizer.eps=1e-4"]),
    ("trainer", ["trainer.precision=16-true", "optimizer._target_=torch.optim.Adagrad", "~optimizer.betas"],
     ["optimizer.eps=1e-10 (torch.optim.Adagrad's default; not set)"]),
    ("trainer", ["trainer.precision=16-true", "optimizer=adam", "+optimizer.eps=1e-6"], ["optimizer.eps=1e-06 with trainer.precision=16-true"]),
    pytest.param("trainer", ["trainer.precision=16-mixed"], ["trainer.precision=16-mixed", "bf16-mixed"], marks=no_gpu),
    pytest.param("trainer", ["trainer=gpu"], ["trainer.accelerator=gpu", "no CUDA GPU"], marks=no_gpu),
    pytest.param("trainer", ["trainer=ddp"], ["trainer.accelerator=gpu", "no CUDA GPU"], marks=no_gpu),
    pytest.param("trainer", ["trainer.devices=3"], ["trainer.devices=3", "trainer.accelerator=cpu"], marks=no_gpu),
    ("trainer", ["trainer.devices=0"], ["trainer.devices=0"]),
    ("trainer", ["trainer.accelerator=tpu"], ["trainer.accelerator=tpu needs torch_xla"]),
    ("trainer", ["trainer.val_check_interval=1.5"], ["trainer", "val_check_interval"]),
    ("trainer", ["trainer.gradient_clip_val=-1.0"], ["trainer.gradient_clip_val=-1.0"]),
    ("trainer", ["trainer.gradient_clip_algorithm=l2"], ["trainer.gradient_clip_algorithm='l2'", "'norm' or 'value'"]),
    ("trainer", ["trainer.accumulate_grad_batches=0"], ["trainer.accumulate_grad_batches=0"]),
    ("trainer", ["+trainer.max_epoch=3"], ["trainer.max_epoch: unknown key for lightning.pytorch.Trainer"]),
    ("trainer", ["trainer.log_every_n_steps=abc"], ["trainer.log_every_n_steps='abc'"]),
    # --- callbacks and loggers ---
    ("callbacks/logger", ["+callbacks.foo=1"], ["callbacks.foo=1", "needs a _target_"]),
    # a class that is no Callback / Logger: Lightning's TypeError came only after the data was read
    ("callbacks/logger", ["+callbacks.foo._target_=torch.nn.Identity"],
     ["callbacks.foo._target_='torch.nn.Identity' is not a Lightning Callback (it builds torch.nn.modules.linear.Identity)"]),
    ("callbacks/logger", ["logger=csv", "+logger.foo._target_=builtins.dict"], ["logger.foo._target_='builtins.dict' is not a Lightning Logger"]),
    ("callbacks/logger", ["+callbacks.model_checkpoint.every_n_step=5"], ["callbacks.model_checkpoint.every_n_step: unknown key"]),
    ("callbacks/logger", ["callbacks.last_checkpoint.every_n_train_steps=-1"], ["callbacks.last_checkpoint", "every_n_train_steps"]),
    ("callbacks/logger", ["callbacks=early_stopping", "callbacks.early_stopping.patience=soon"],
     ["callbacks.early_stopping.patience='soon'"]),
    ("callbacks/logger", ["+logger.wandb.projct=x"], ["logger.wandb.projct: unknown key", "wandb.init"]),
    ("callbacks/logger", ["logger=csv", "+logger.csv.flush_every=3"], ["logger.csv.flush_every: unknown key for seqtrain.csv_logger.CSVLogger"]),
    ("callbacks/logger", ["logger.wandb.log_model=maybe"], ["logger.wandb.log_model='maybe'"]),
    # --- a bad value for a key of every shipped data config, named with its dotted key ---
    ("data", ["data.batch_size=-4"], ["data.batch_size=-4: must be >= 1"]),
    # a hub dataset's configuration without the hub dataset: it was ignored, and the files trained
    ("data", ["data=table", "data.hub_config=x"], ["hub_config='x'", "hub is not set", "TableDataModule"]),
    ("data", [*SUNSPOTS, "data.hub_config=x"], ["hub_config='x'", "hub is not set", "ForecastDataModule"]),
    ("data", ["data.seq_len=0"], ["data.seq_len=0: must be >= 1"]),
    ("data", ["data.val_fraction=1.5"], ["data.val_fraction=1.5: must be in (0, 1)"]),
    ("data", ["data.max_chars=0"], ["data.max_chars=0"]),
    ("data", ["data=text", "data.train_files=x.txt", "data.tokenizer=bpe", "data.max_vocab_size=100"],
     ["data.max_vocab_size=100: a byte-level bpe vocabulary needs at least 258 ids"]),
    ("data", ["data=table", "data.tokenizer=unigram", "data.max_vocab_size=5"], ["data.max_vocab_size=5", "unigram"]),
    ("data", [*VOWELS, "data.val_fraction=0"], ["data.val_fraction=0"]),
    ("data", [*VOWELS, "data.num_workers=-1"], ["data.num_workers=-1: must be >= 0"]),
    ("data", [*SUNSPOTS, "data.window=0"], ["data.window=0: must be >= 1"]),
    ("data", [*SUNSPOTS, "data.horizon=-2"], ["data.horizon=-2"]),
    ("data", [*SUNSPOTS, "data.stride=0"], ["data.stride=0"]),
    ("data", [*SUNSPOTS, "data.scale=zscore"], ["data.scale='zscore'", "'standard', 'minmax' or 'none'"]),
    ("data", [*SUNSPOTS, "data.mode=seq2seq"], ["data.mode='seq2seq'"]),
    ("data", ["experiment=none", "recipe=none", "data=forecast", "data.test_fraction=1.5"], ["data.test_fraction=1.5"]),
    ("data", ["experiment=none", "recipe=none", "data=table", "data.tokenizer=sentencepiece"],
     ["data.tokenizer='sentencepiece'", "'char', 'word', 'bpe' or 'unigram'"]),
    ("data", ["experiment=none", "recipe=none", "data=table", "data.min_frequency=0"], ["data.min_frequency=0: must be >= 1"]),
    ("data", ["experiment=none", "recipe=none", "data=table", "data.max_vocab_size=2"], ["data.max_vocab_size=2: must be >= 3"]),
    ("data", ["experiment=none", "recipe=none", "data=table", "data.max_length=0"], ["data.max_length=0"]),
    ("data", ["experiment=none", "recipe=none", "data=table", "data.overflow=wrap"], ["data.overflow='wrap'"]),
    ("data", ["experiment=none", "recipe=none", "data=text", "data.val_fraction=0.6", "data.test_fraction=0.5"],
     ["data.val_fraction=0.6 + data.test_fraction=0.5", "sum < 1"]),
    ("data", ["experiment=none", "recipe=none", "data=text", "data.documents=page", "data.stateful=true"], ["data.documents='page'"]),
    ("data", ["experiment=none", "recipe=none", "data=parity", "data.num_train=0"], ["data.num_train=0: must be >= 1"]),
    ("data", ["experiment=none", "recipe=none", "data=parity", "data.min_len=30"], ["data.min_len must be in [1, seq_len=20]"]),
    ("data", ["experiment=none", "recipe=none", "data=adding", "data.num_test=-1"], ["data.num_test=-1"]),
    ("data", ["experiment=none", "recipe=none", "data=truecase", "data.seq_len=-8"], ["data.seq_len=-8"]),
    ("data", ["experiment=none", "recipe=none", "data=table", "data.seed=-1"], ["data.seed=-1: must be in [0, 4294967295]"]),
    ("data", ["seed=4294967296"], ["seed=4294967296", "less than or equal to 4294967295"]),
    ("data", ["experiment=none", "recipe=none", "data=truecase", "data.targets=next_char"], ["data.targets='next_char'"]),
    ("data", ["experiment=none", "recipe=none", "data=truecase", "data.tokenizer=word"], ["data.targets=case", "data.tokenizer=char"]),
    ("data", ["experiment=none", "recipe=none", "data=text", "data.targets=case", "data.stateful=true"],
     ["data.targets=case", "data.stateful=false"]),
    # --- more trainer, scheduler, callbacks and logger keys ---
    ("trainer", ["trainer.log_every_n_steps=0"], ["trainer.log_every_n_steps=0: must be >= 1"]),
    ("trainer", ["trainer.check_val_every_n_epoch=0"], ["trainer.check_val_every_n_epoch=0: must be >= 1"]),
    ("trainer", ["trainer.num_sanity_val_steps=-2"], ["trainer.num_sanity_val_steps=-2: must be >= -1"]),
    ("data", ["data=forecast", "data.columns=[load,load,temp]"], ["data.columns=['load', 'load', 'temp']: names 'load' more than once"]),
    ("data", ["data=forecast", "data.target_columns=[load,load]"], ["data.target_columns=['load', 'load']: names 'load' more than once"]),
    ("data", ["data=table", "data.sequence_column=label", "data.target_column=label"],
     ["data.sequence_column and data.target_column are both 'label'"]),
    ("run", ["overwrite=true", "ckpt_path=last"], ["overwrite=true replaces the run", "ckpt_path=last continues a run"]),
    ("trainer", ["trainer.max_time=00:00:00:00"], ["trainer.max_time=00:00:00:00 trains nothing"]),
    ("trainer", ["trainer.val_check_interval=0"], ["trainer.val_check_interval=0: must be > 0"]),
    ("trainer", ["trainer.val_check_interval=-0.5"], ["trainer.val_check_interval=-0.5: must be > 0"]),
    ("trainer", ["trainer.limit_train_batches=0"], ["trainer.limit_train_batches=0 trains nothing"]),
    ("trainer", ["trainer.limit_train_batches=0.0"], ["trainer.limit_train_batches=0.0 trains nothing"]),
    # min_* beyond max_*: Lightning stopped at max_* and ignored min_* silently
    ("trainer", ["trainer.max_epochs=2", "+trainer.min_epochs=5"], ["trainer.min_epochs=5 > trainer.max_epochs=2", "raise trainer.max_epochs"]),
    ("trainer", ["trainer.max_steps=10", "+trainer.min_steps=100"], ["trainer.min_steps=100 > trainer.max_steps=10"]),
    # test=true on no test batch ended the run with an IndexError from Lightning's empty result list
    ("trainer", ["trainer.limit_test_batches=0"], ["trainer.limit_test_batches=0 tests no batch", "test=true", "set test=false"]),
    ("trainer", ["trainer.limit_test_batches=0.0"], ["trainer.limit_test_batches=0.0 tests no batch"]),
    ("trainer", ["trainer.limit_val_batches=0"], ["trainer.limit_val_batches=0 runs no validation", "monitor=val/loss", "monitor=train/loss"]),
    ("trainer", ["trainer.max_epochs=2", "trainer.check_val_every_n_epoch=3"],
     ["trainer.check_val_every_n_epoch=3 with trainer.max_epochs=2 never validates", "monitor=val/loss"]),
    ("trainer", ["trainer.accelerator=bogus"], ["trainer.accelerator='bogus': must be one of auto, cpu"]),
    pytest.param("trainer", ["trainer.devices=-1"], ["trainer.devices=-1", "on a CPU"], marks=no_gpu),
    ("scheduler", ["scheduler=plateau", "scheduler.scheduler.factor=-0.5"], ["scheduler.scheduler.factor=-0.5: must be in (0, 1)"]),
    ("scheduler", ["scheduler=plateau", "scheduler.scheduler.patience=-1"], ["scheduler.scheduler.patience=-1: must be >= 0"]),
    ("scheduler", ["scheduler=cosine", "scheduler.scheduler.T_max=0"], ["scheduler.scheduler.T_max=0: must be >= 1"]),
    ("callbacks/logger", ["callbacks=early_stopping", "callbacks.early_stopping.patience=-1"],
     ["callbacks.early_stopping.patience=-1: must be >= 0"]),
    ("callbacks/logger", ["callbacks.progress_bar.refresh_rate=-1"], ["callbacks.progress_bar.refresh_rate=-1: must be >= 0"]),
    ("callbacks/logger", ["callbacks.model_checkpoint.save_top_k=-2"], ["callbacks.model_checkpoint.save_top_k=-2: must be >= -1"]),
    # one file name for several checkpoints: each save replaced best.ckpt, which held the newest epoch, tested as the best
    ("callbacks/logger", ["callbacks.model_checkpoint.save_top_k=-1"],
     ["callbacks.model_checkpoint.save_top_k=-1 keeps several checkpoints under one file name", "not the best by val/loss",
      "callbacks.model_checkpoint.save_top_k=1", "filename='best-{epoch}'"]),
    ("callbacks/logger", ["callbacks.model_checkpoint.save_top_k=3"], ["callbacks.model_checkpoint.save_top_k=3 keeps several"]),
    ("callbacks/logger", ["callbacks.last_checkpoint.every_n_train_steps=0"], ["callbacks.last_checkpoint.every_n_train_steps=0"]),
    # a folder the run writes into that is a file (or under one): makedirs' traceback, the checkpoints' after an epoch
    ("callbacks/logger", [f"callbacks.model_checkpoint.dirpath={ROOT / 'README.md'}"],
     [f"callbacks.model_checkpoint.dirpath='{ROOT / 'README.md'}': '{ROOT / 'README.md'}' is a file, not a folder"]),
    ("callbacks/logger", ["logger=csv", f"logger.csv.save_dir={ROOT / 'README.md' / 'logs'}"],
     [f"logger.csv.save_dir='{ROOT / 'README.md' / 'logs'}'", "is a file, so no folder can be made under it"]),
    ("data", [f"data.cache_dir={ROOT / 'README.md'}"], ["data.cache_dir=", "is a file, not a folder"]),
    ("callbacks/logger", ["logger.wandb.mode=bogus"], ["logger.wandb.mode='bogus'", "'online', 'offline'", "wandb.init"]),
    ("callbacks/logger", ["logger.wandb.settings.quiet=maybe"], ["logger.wandb.settings.quiet='maybe'", "valid boolean"]),
    ("callbacks/logger", ["+logger.wandb.settings.quiett=true"], ["logger.wandb.settings.quiett: unknown key for wandb.Settings"]),
    # --- truncated BPTT and stateful streams ---
    ("trainer", ["trainer.gradient_clip_val=0"], ["trainer.gradient_clip_val=0", "greater than 0"]),
    ("truncated BPTT", ["task.tbptt_steps=0"], ["task.tbptt_steps=0"]),
    ("truncated BPTT", ["task.tbptt_steps=abc"], ["task.tbptt_steps='abc'"]),
    ("truncated BPTT", ["task.tbptt_variable=true"], ["task.tbptt_variable=true needs task.tbptt_steps"]),
    ("truncated BPTT", ["task.tbptt_scale_lr=true"], ["task.tbptt_scale_lr=true needs task.tbptt_steps"]),
    ("truncated BPTT", ["task.tbptt_steps=16", "trainer.accumulate_grad_batches=2"], ["trainer.accumulate_grad_batches=2"]),
    ("truncated BPTT", ["model.bidirectional=true", "task.tbptt_steps=16"], ["model.bidirectional=true"]),
    ("truncated BPTT", ["data=text", "data.documents=row"], ["data.documents=row", "data.stateful=true"]),
]


def _kind(case: object) -> str:
    return case.values[0] if hasattr(case, "values") else case[0]  # type: ignore[union-attr,index]


@pytest.fixture
def no_data_read(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Any datamodule's setup (where data is read) fails the test."""
    from seqtrain.data.datamodule import SequenceDataModule

    calls: list[str] = []

    def refuse(self: SequenceDataModule, stage: str | None = None) -> None:
        calls.append(type(self).__name__)
        raise AssertionError(f"{type(self).__name__}: data was read before the config was refused")

    monkeypatch.setattr(SequenceDataModule, "setup", refuse)
    return calls


@pytest.mark.parametrize(("kind", "overrides", "words"), CASES, ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_refused_before_any_data_is_read(compose_train: Compose, tmp_path: Path, no_data_read: list[str],
                                         kind: str, overrides: list[str], words: list[str]) -> None:
    from seqtrain.run import train

    cfg = compose_train("logger=none" if "logger" not in " ".join(overrides) else "hydra.job.name=x", *overrides)
    with pytest.raises(ConfigError) as error:
        train(cfg)
    message = str(error.value)
    for word in words:
        assert word in message, message
    assert not no_data_read
    assert not list(tmp_path.rglob("*.ckpt")) and not (tmp_path / "config.yaml").exists()


# Valid inputs that must pass both check passes (several were refused, or failed inside Hydra, before).
ACCEPTED = [
    ["optimizer.betas=[0.9,0.99]"],
    [*VOWELS, "trainer.limit_val_batches=0", "monitor=train/loss"],
    [*VOWELS, "trainer.max_time=00:00:10:00", "trainer.val_check_interval=0.5"],  # no validation, and nothing chosen by it
    [*VOWELS, "trainer.max_epochs=2", "trainer.check_val_every_n_epoch=2", "trainer.limit_train_batches=0.5"],
    ["optimizer=adam", "optimizer.betas=[0.5,0.9]"],
    ["experiment=none"],
    ["~experiment"],
    [*VOWELS, "monitor=val/acc", "monitor_mode=max"],
    [*VOWELS, "callbacks=early_stopping", "monitor=val/f1", "monitor_mode=max"],
    [*SUNSPOTS, "monitor=val/rmse"],
    ["monitor=val/bpt"],
    ["monitor=train/loss"],
    ["trainer.max_epochs=-1", "trainer.max_steps=5"],
    ["trainer.max_epochs=-1", "trainer.max_time=00:00:01:00"],
    ["trainer.max_epochs=-1", "callbacks=early_stopping"],
    ["trainer.precision=bf16-mixed", "trainer.accelerator=cpu"],
    ["trainer.accelerator=cpu", "trainer.devices=2", "+trainer.strategy=ddp"],
    ["model.num_layers=2", "model.dropout=0.3"],
    ["experiment=none", "recipe=none", "data=truecase", "model.bidirectional=true"],
    [*SUNSPOTS, "model.bidirectional=true"],
    ["experiment=none", "recipe=none", "data=parity", "data.per_step=true", "model.head=many_to_many"],
    [*VOWELS, "model.head=many_to_one", "model.pooling=max"],
    ["model.tie_weights=true", "model.hidden_size=64", "model.embedding_dim=64"],
    ["task.tbptt_steps=16", "task.tbptt_variable=true", "task.tbptt_scale_lr=true"],
    [*VOWELS, "task.label_smoothing=0.1"],
    [*VOWELS, "task.label_smoothing=0"],  # an int 0 is a float 0
    [*SUNSPOTS, "task.random_scaling=1.3"],
    [*SUNSPOTS, "task.random_scaling=2"],  # an int 2 is a float 2
    ["experiment=none", "recipe=none", "data=truecase", "task.label_smoothing=0.1"],  # tagging
    ["scheduler=cosine", "scheduler.interval=step", "trainer.max_steps=500", "scheduler.scheduler.T_max=${trainer.max_steps}"],
    ["trainer.max_epochs=5", "+trainer.min_epochs=5", "+trainer.min_steps=100"],  # max_steps=-1: no step limit
    ["data=table", "data.train_files=train.csv", "data.val_files=train.csv", "data.test_files=test.csv"],  # validating on training rows: a choice
    [*VOWELS, "model.embedding_dim=null"],  # real-valued features fed raw
    ["trainer.precision=16-true", "+optimizer.eps=1e-4"],
    ["trainer.precision=16-true", "optimizer=sgd"],
    ["test=false", "trainer.limit_test_batches=0"],
    [*VOWELS, "scheduler=plateau", "monitor=val/acc", "monitor_mode=max"],  # its mode follows monitor_mode
    [*VOWELS, "scheduler=plateau", "trainer.check_val_every_n_epoch=2", "monitor=train/loss"],  # a metric every epoch has
    ["~callbacks.progress_bar", "+trainer.enable_progress_bar=false"],  # README's quieter run
    ["callbacks.model_checkpoint.save_top_k=-1", "callbacks.model_checkpoint.filename='best-{epoch}'"],  # names apart
    ["callbacks.model_checkpoint.save_top_k=3", "callbacks.model_checkpoint.enable_version_counter=true"],
    ["~callbacks.model_checkpoint", "~callbacks.last_checkpoint", "+trainer.enable_checkpointing=false"],
    [*VOWELS, "model.patch_size=4"],
    [*SUNSPOTS, "model.patch_size=3"],  # mode=many_to_one: one value per window
    ["data=table", "model.patch_size=auto", "recipe.patch_steps=16"],
    ["model.patch_size=auto"],  # the language model: auto picks 1 once the data says tokens
    ["data=table", "data.sequence_kind=text", "model.bag=bigrams", "model.bag_buckets=1000"],
]


@pytest.mark.parametrize(("override", "words"), [
    ("model.patch_size=4", ("model.patch_size=4", "token ids", "TableDataModule")),
    # before: the model's ValueError inside Hydra's "Error in call to target" wrapping
    ("model.embedding_dim=null", ("model.embedding_dim=null", "TableDataModule (vocabulary of")),
])
def test_token_ids_found_in_the_data_are_refused_before_a_model_is_built(compose_train: Compose, tmp_path: Path,
                                                                         override: str, words: tuple[str, ...]) -> None:
    """`data.sequence_kind=auto` tells text from numbers only once the files are read: a patch size, or no input layer
    (`model.embedding_dim=null`), is refused then, from the config checks (a ConfigError naming the key), not from the
    model's constructor (a plain ValueError)."""
    from seqtrain.run import train

    sys.path.insert(0, str(ROOT / "tests" / "data"))
    from user_files import sentiment_rows, write_csv

    write_csv(tmp_path / "reviews.csv", sentiment_rows(40))
    cfg = compose_train("logger=none", "data=table", f"data.train_files={tmp_path / 'reviews.csv'}", "data.sequence_column=text",
                        f"data.cache_dir={tmp_path / 'cache'}", override)
    with pytest.raises(ConfigError) as error:
        train(cfg)
    message = str(error.value)
    assert all(word in message for word in words), message
    assert not list(tmp_path.rglob("*.ckpt"))


def test_a_patch_size_that_holds_every_training_sequence_is_refused_once_the_data_is_read(compose_train: Compose,
                                                                                            tmp_path: Path) -> None:
    """Before: `model.patch_size=50` on rows of 5-12 steps trained without comment, each row one zero-filled patch (a
    recurrence of one step). Refused once the lengths are known, naming the key, the value and the training lengths."""
    from seqtrain.run import train

    lengths = [5 + i % 8 for i in range(40)]  # 5..12 steps, every training row among them
    path = tmp_path / "short.csv"
    path.write_text("sequence,label\n" + "".join(f"{' '.join(str(i + j) for j in range(n))},{'ab'[i % 2]}\n" for i, n in enumerate(lengths)))
    cfg = compose_train("logger=none", "experiment=none", "data=table", f"data.train_files={path}", f"data.cache_dir={tmp_path / 'cache'}",
                        "model.patch_size=50")
    with pytest.raises(ConfigError) as error:
        train(cfg)
    message = str(error.value)
    assert "model.patch_size=50: every training sequence" in message and "lengths 5-12 steps" in message, message
    assert "set model.patch_size below 12, or model.patch_size=auto" in message, message
    assert not list(tmp_path.rglob("*.ckpt")) and not (tmp_path / "config.yaml").exists()


@pytest.mark.parametrize(("size", "refused", "warned"), [(12, True, False), (11, False, True), (9, False, True), (8, False, False), (1, False, False)])
def test_a_patch_size_is_judged_by_how_many_training_rows_fit_in_one_patch(size: int, refused: bool, warned: bool) -> None:
    """Rows no longer than k are one patch: all of them refused, more than half warned (counted by hand here)."""
    from seqtrain.recipe import patch_size_problems

    lengths = [5 + i % 8 for i in range(40)]  # 5 rows of each length 5..12
    refusal, warning = patch_size_problems(size, lengths)
    assert (refusal is not None, warning is not None) == (refused, warned)
    if warned:
        one_patch = sum(n <= size for n in lengths)
        assert warning.startswith(f"model.patch_size={size}: {one_patch} of 40 training sequences (lengths 5-12 steps, median 9)")


@pytest.mark.parametrize(("overrides", "words"), [
    (["trainer.val_check_interval=100000"], ["trainer.val_check_interval=100000 validates every 100000 training batches, but an epoch has",
                                             "trainer.check_val_every_n_epoch=null"]),
    (["trainer.limit_train_batches=0.0001"], ["trainer.limit_train_batches=0.0001 of the", "is less than one batch"]),
])
def test_batch_counts_beyond_an_epoch_are_refused_once_the_data_is_read(compose_train: Compose, tmp_path: Path,
                                                                        overrides: list[str], words: list[str]) -> None:
    """Counts only the data can judge: a ConfigError naming the key and the epoch's batches before the run directory is
    written (before: Lightning's ValueError / MisconfigurationException from inside `fit`, with a traceback)."""
    from seqtrain.run import train

    cfg = compose_train(*VOWELS, "logger=none", "trainer.accelerator=cpu", *overrides)
    with pytest.raises(ConfigError) as error:
        train(cfg)
    for word in words:
        assert word in str(error.value), str(error.value)
    assert not list(tmp_path.rglob("*.ckpt")) and not (tmp_path / "config.yaml").exists()


@pytest.mark.parametrize("test_files", ["{dir}/train.csv", "{dir}/tr*.csv", "[{dir}/other.csv,{dir}/./train.csv]"])
def test_a_training_file_named_as_test_data_is_refused_before_any_is_read(compose_train: Compose, tmp_path: Path,
                                                                         no_data_read: list[str], test_files: str) -> None:
    """Before: `data.test_files=<the training file>` trained on it, tested on it again and printed those metrics as the test's."""
    from seqtrain.run import train

    for name in ("train.csv", "other.csv"):
        (tmp_path / name).write_text("sequence,label\n1 2 3,a\n4 5 6,b\n")
    cfg = compose_train("logger=none", "experiment=none", "data=table", f"data.train_files={tmp_path / 'train.csv'}",
                        f"data.test_files={test_files.format(dir=tmp_path)}")
    with pytest.raises(ConfigError) as error:
        train(cfg)
    message = str(error.value)
    assert f"data.test_files and data.train_files both name {str(tmp_path / 'train.csv')!r}" in message, message
    assert "the test metrics would be on rows the model trained on" in message, message
    assert not no_data_read


@pytest.mark.parametrize("overrides", ACCEPTED, ids=" ".join)
def test_valid_inputs_pass_the_checks(compose_train: Compose, overrides: list[str]) -> None:
    cfg = compose_train(*overrides)
    check_options(cfg)
    check_targets(cfg)


def test_betas_from_the_command_line_train_and_load_weights_only(compose_train: Compose, tmp_path: Path) -> None:
    """`optimizer.betas=[0.9,0.99]` reaches Adam as given, and its checkpoint still loads with weights_only."""
    from seqtrain.checkpoint import load_checkpoint
    from seqtrain.run import train

    cfg = compose_train(*VOWELS, "debug=smoke", "logger=none", "trainer.accelerator=cpu", "test=false",
                        "optimizer.betas=[0.9,0.99]")
    train(cfg)
    checkpoint = load_checkpoint(tmp_path / "checkpoints" / "last.ckpt")  # weights_only=True inside
    assert tuple(checkpoint["optimizer_states"][0]["param_groups"][0]["betas"]) == (0.9, 0.99)


# --- the command line: exit status, message on stderr, no run files --------------------------------

CLI = [
    (["+foo=1"], "foo: unknown top-level key"),
    (["data=table", "data.task=regresion"], "(it reads data.task='regresion')"),
    (["data=shakespeare", "data.stateful=false", "model.bidirectional=true"], "model.bidirectional=true cannot train"),
    (["optimizer.lr=0"], "optimizer.lr=0: must be > 0"),
    (["trainer.max_epochs=0"], "trainer.max_epochs=0 trains nothing"),
    # Hydra makes the run's folder before any check: a file there was its FileExistsError traceback
    ([f"hydra.run.dir={ROOT / 'README.md'}"], f"hydra.run.dir='{ROOT / 'README.md'}': '{ROOT / 'README.md'}' is a file, not a folder"),
    # Hydra refused these itself ("Key 'test_files' is not in struct") and suggested `+data.test_files=`, which failed too
    (["data=forecast", "data.train_files=a.csv", "data.test_files=b.csv"],
     "data.test_files: data=forecast takes no val / test files: it splits each series in time"),
    (["data=forecast", "data.train_files=a.csv", "+data.val_files=b.csv"], "data.val_files: data=forecast takes no val / test files"),
]


@pytest.mark.parametrize(("overrides", "words"), CLI, ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_command_line_refuses(tmp_path: Path, overrides: list[str], words: str) -> None:
    proc = run_train(*overrides, "logger=none", f"hydra.run.dir={tmp_path}", env={"PYTHONPATH": str(ROOT)}, timeout=120)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]  # the message alone
    assert "train.py: error: " in proc.stderr and words in proc.stderr, proc.stderr[-2000:]
    assert not list(tmp_path.rglob("*.ckpt")) and not (tmp_path / "config.yaml").exists()


def test_experiment_none_is_the_documented_way_to_drop_the_experiment() -> None:
    proc = run_train("experiment=none", "recipe=none", "data=vowels", "--cfg", "job", env={"PYTHONPATH": str(ROOT)}, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "TableDataModule" in proc.stdout and "hidden_size: 128" in proc.stdout  # the bare groups


NULL_GROUPS = [
    # (what the user types, the rewrite train.py says it uses, a line of the job's config that proves it)
    ("experiment=null", "using experiment=none", "hidden_size: 128"),  # the bare groups, as with experiment=none
    ("debug=null", "using ~debug", "max_epochs: 10"),
    ("hparams_search=none", "using ~hparams_search", "max_epochs: 10"),
    ("logger=NULL", "using logger=none", "logger: {}"),
]


@pytest.mark.parametrize(("override", "said", "config_line"), NULL_GROUPS, ids=[c[0] for c in NULL_GROUPS])
def test_null_for_a_group_is_what_it_means(override: str, said: str, config_line: str) -> None:
    """Hydra 1.3 refuses `GROUP=null` ("Config group override must be a string or a list"); train.py
    rewrites it first and says so in one line."""
    proc = run_train("recipe=none", "data=vowels", override, "--cfg", "job", env={"PYTHONPATH": str(ROOT)}, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"{override}: " in proc.stderr and said in proc.stderr
    assert config_line in proc.stdout, proc.stdout[-3000:]


def test_null_for_a_required_group_names_its_options(tmp_path: Path) -> None:
    proc = run_train("model=null", f"hydra.run.dir={tmp_path}", env={"PYTHONPATH": str(ROOT)}, timeout=60)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "model=null: model is a config group and needs one of its options (gru, lstm, rnn)" in proc.stderr
    assert not any(tmp_path.iterdir())


# --- scripts/generate.py and scripts/evaluate.py ---------------------------------------------------


def _script(name: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, str(ROOT / "scripts" / name), *args], capture_output=True, text=True,
                          timeout=120, env=env)


SCRIPT_ARGS = [
    ("generate.py", ["--top-k", "0"], "argument --top-k: 0 is not >= 1"),
    ("generate.py", ["--top-k", "-3"], "argument --top-k: -3 is not >= 1"),
    ("generate.py", ["--length", "-1"], "argument --length: -1 is not >= 0"),
    ("generate.py", ["--temperature", "0"], "argument --temperature: 0 is not a finite number > 0"),
    ("generate.py", ["--temperature", "nan"], "argument --temperature: nan is not a finite number > 0"),
    ("generate.py", ["--length", "ten"], "argument --length: invalid"),
    ("evaluate.py", ["--split", "train"], "argument --split: invalid choice: 'train'"),
    # refused only after the model was loaded, as "batch_size must be >= 1, got 0" (not the option's name)
    ("predict.py", ["--files", "x.csv", "--out", "p.csv", "--batch-size", "0"], "argument --batch-size: 0 is not >= 1"),
]


@pytest.mark.parametrize(("script", "args", "words"), SCRIPT_ARGS, ids=lambda v: " ".join(v) if isinstance(v, list) else v)
def test_script_arguments_are_refused_before_loading(tmp_path: Path, script: str, args: list[str], words: str) -> None:
    proc = _script(script, str(tmp_path / "no-such-run"), *args)
    assert proc.returncode == 2 and words in proc.stderr, proc.stderr[-2000:]  # argparse's exit, before any load


@pytest.mark.parametrize("script", ["generate.py", "evaluate.py"])
def test_scripts_name_a_missing_checkpoint_in_one_line(tmp_path: Path, script: str) -> None:
    proc = _script(script, str(tmp_path / "no-such.ckpt"))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert f"{script}: error: " in proc.stderr and "no-such.ckpt" in proc.stderr


@pytest.mark.parametrize("script", ["predict.py", "export.py"])
@pytest.mark.parametrize("where", ["a folder", "under a file"])
def test_scripts_refuse_an_output_they_cannot_write_before_loading(tmp_path: Path, script: str, where: str) -> None:
    """`--out` naming a folder, or a path under a file: one line before the checkpoint is even looked at (before: an
    IsADirectoryError / NotADirectoryError traceback after the model ran on every row)."""
    suffix = ".csv" if script == "predict.py" else ".onnx"
    (tmp_path / "data.csv").write_text("sequence,label\n1 2,a\n")
    out = tmp_path / f"preds{suffix}"
    if where == "a folder":
        out.mkdir()
    else:
        out = tmp_path / "data.csv" / f"preds{suffix}"
    files = ["--files", str(tmp_path / "data.csv")] if script == "predict.py" else []
    proc = _script(script, str(tmp_path / "no-such-run"), *files, "--out", str(out))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    said = "is a folder; name the file to write" if where == "a folder" else "is a file, not a folder"
    assert f"error: --out {str(out)!r}" in proc.stderr and said in proc.stderr, proc.stderr[-2000:]


@pytest.fixture(scope="module")
def lm_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("lm")
    proc = run_train("data=shakespeare", "data.max_chars=20000", "data.seq_len=32", "data.batch_size=8",
                     "model.hidden_size=32", "debug=smoke", "trainer.accelerator=cpu", "logger=none",
                     f"hydra.run.dir={run_dir}", env={"PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return run_dir


PROMPTS = [
    ({"prompt": "ROMEO: жук"}, "characters 'ж', 'у', 'к' are not in the model's vocabulary"),
    ({"prompt": ""}, "prompt is empty"),
    ({"prompt": "KING", "top_k": 10_000}, "top_k=10000 is more than the vocabulary"),
    ({"prompt": "KING", "top_k": 0}, "top_k must be an integer >= 1"),
    ({"prompt": "KING", "temperature": -1.0}, "temperature must be a finite number > 0"),
    ({"prompt": "KING", "length": -5}, "length must be an integer >= 0"),
]


@pytest.mark.parametrize(("kwargs", "words"), PROMPTS, ids=lambda v: str(v) if isinstance(v, dict) else None)
def test_generation_inputs_are_named(lm_run: Path, kwargs: dict, words: str) -> None:
    from seqtrain.generate import generate_text

    options = {"length": 10, **kwargs}
    with pytest.raises(ValueError) as error:
        generate_text(lm_run, options.pop("prompt"), **options)
    assert words in str(error.value)


def test_generate_script_prompt_outside_the_vocabulary(lm_run: Path) -> None:
    proc = _script("generate.py", str(lm_run), "--prompt", "naïve €", "--length", "5")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "'€'" in proc.stderr and "not in the model's vocabulary" in proc.stderr


def test_real_valued_inputs_found_in_the_data_are_refused_a_bag_before_a_model_is_built(compose_train: Compose) -> None:
    """The adding problem's config cannot say its inputs are numbers; its facts do: a ConfigError naming the key."""
    from seqtrain.run import train

    cfg = compose_train("logger=none", "experiment=none", "recipe=none", "data=adding", "model.bag=unigrams")
    with pytest.raises(ConfigError) as error:
        train(cfg)
    message = str(error.value)
    assert "model.bag=unigrams" in message and "real-valued" in message and "AddingDataModule" in message, message


def test_real_valued_inputs_found_in_the_data_are_refused_a_naive_bayes_before_a_model_is_built(compose_train: Compose) -> None:
    """Japanese Vowels is classification, so only its facts (12 real features a step) tell that there are no tokens."""
    from seqtrain.run import train

    cfg = compose_train("logger=none", "experiment=none", "recipe=none", "data=vowels", "model.naive_bayes=bigrams")
    with pytest.raises(ConfigError) as error:
        train(cfg)
    message = str(error.value)
    assert "model.naive_bayes=bigrams counts tokens" in message and "real-valued" in message, message


@pytest.mark.parametrize("tokenizer, reads", [("char", "reads characters"), ("word", "reads words whole")])
def test_words_of_a_naive_bayes_without_subword_tokens_are_refused_before_a_model_is_built(
        compose_train: Compose, tmp_path: Path, tokenizer: str, reads: str) -> None:
    """Judged once the data is read, when the recipe has settled the tokenizer (the table config's own default is
    characters, which the recipe replaces by Unigram subwords for English-like text): here the command line's."""
    import sys

    from seqtrain.run import train

    sys.path.insert(0, str(Path(__file__).parent / "data"))
    from user_files import sentiment_rows, write_csv

    rows = write_csv(tmp_path / "reviews.csv", sentiment_rows(60, seed=0))
    cfg = compose_train("logger=none", "experiment=none", "data=table", f"data.train_files={rows}", "data.sequence_column=text",
                        f"data.tokenizer={tokenizer}", "model.naive_bayes=words", f"data.cache_dir={tmp_path / 'cache'}",
                        f"hydra.run.dir={tmp_path / 'run'}")
    with pytest.raises(ConfigError) as error:
        train(cfg)
    message = str(error.value)
    assert f"model.naive_bayes=words counts the words that subword tokens spell, but data.tokenizer={tokenizer} {reads}" in message
    assert "set data.tokenizer=unigram" in message and not (tmp_path / "run" / "checkpoints").exists()


def test_online_wandb_without_an_api_key_is_refused_before_any_data_is_read(compose_train: Compose, tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """wandb.init finds no key where wandb itself looks (its own look-up, without the prompt), so it would stop the
    run on a terminal to ask for an account, after the run directory was written: refused when the logger is built.
    With a key (not checked against the server here) or offline, the logger is built."""
    from wandb.sdk.lib.wbauth import authenticate

    from seqtrain.run import train

    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_IDENTITY_TOKEN_FILE", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no.netrc"))
    assert authenticate.authenticate_session(host="https://api.wandb.ai", source="test", prompt=False, verify=False,
                                             update_session=False) is None  # what wandb.init would prompt for
    for online in (["logger.wandb.mode=online"], ["logger.wandb.mode=null"]):  # null: WANDB_MODE, else wandb's online
        monkeypatch.delenv("WANDB_MODE", raising=False)
        cfg = compose_train(*VOWELS, *online)
        with pytest.raises(ConfigError) as error:
            train(cfg)
        assert "logger.wandb.mode is online, but no W&B API key was found" in str(error.value), str(error.value)
        assert "logger.wandb.mode=offline" in str(error.value)
        assert not list(tmp_path.rglob("*.ckpt")) and not (tmp_path / "config.yaml").exists()
    check_targets(compose_train(*VOWELS, "logger.wandb.mode=offline"))
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    check_targets(compose_train(*VOWELS, "logger.wandb.mode=online"))


def test_several_checkpoints_under_one_name_leave_the_newest_not_the_best(tmp_path: Path) -> None:
    """Why `save_top_k` other than 0 / 1 with the fixed `filename: best` is refused: Lightning's ModelCheckpoint (the
    truth) keeps best.ckpt as the newest save and names it as its best_model_path, the path the run tests."""
    import lightning.pytorch as pl

    class Scripted(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(1, 1)

        def training_step(self, batch, batch_idx):  # noqa: ANN001, ANN201
            return self.layer(batch).sum()

        def validation_step(self, batch, batch_idx):  # noqa: ANN001, ANN201
            self.log("val/loss", [1.0, 3.0][self.current_epoch])  # epoch 0 is the best

        def configure_optimizers(self):  # noqa: ANN201
            return torch.optim.SGD(self.parameters(), lr=0.1)

    saves = pl.callbacks.ModelCheckpoint(dirpath=tmp_path, filename="best", monitor="val/loss", save_top_k=-1,
                                         enable_version_counter=False)
    data = torch.utils.data.DataLoader(torch.ones(2, 1), batch_size=1)
    pl.Trainer(max_epochs=2, callbacks=[saves], logger=False, enable_progress_bar=False, enable_model_summary=False,
               accelerator="cpu").fit(Scripted(), data, data)
    assert saves.best_model_path == str(tmp_path / "best.ckpt")
    assert torch.load(saves.best_model_path, weights_only=True)["epoch"] == 1  # the newest, with val/loss 3.0


def test_count_per_kind() -> None:
    """The corpus size per kind (the README's promises table quotes these numbers)."""
    counts = Counter(_kind(case) for case in CASES)
    counts["command line"] = len(CLI) + 1  # + model=null (the NULL_GROUPS rewrites are accepted, not refused)
    counts["script arguments"] = len(SCRIPT_ARGS) + 2 + 4 + len(PROMPTS) + 1
    print("\n" + "\n".join(f"{kind}: {n}" for kind, n in counts.items()) + f"\ntotal: {sum(counts.values())}")
    assert sum(counts.values()) >= 60


def test_the_byte_level_vocabulary_floor_is_the_tokenizers_own() -> None:
    """The config check's least bpe / unigram size is what the tokenizer itself needs: one id fewer fails there."""
    from seqtrain.config import BYTE_LEVEL_IDS
    from seqtrain.encoders.tokenizer import SubwordTokenizer

    texts = ["a cat sat on the mat"] * 20
    assert len(SubwordTokenizer.fit("bpe", texts, vocab_size=BYTE_LEVEL_IDS)) >= 258
    with pytest.raises(ValueError, match=f"at least {BYTE_LEVEL_IDS} ids"):
        SubwordTokenizer.fit("bpe", texts, vocab_size=BYTE_LEVEL_IDS - 1)
