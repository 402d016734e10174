"""Try one bad value per key of every shipped config and list what the config checks accept.

    python scripts/probe_config_keys.py            # prints accepted / refused-without-the-key lines and a count

For each data config (composed with `recipe=none experiment=none`) and the model, optimizer, scheduler,
trainer, callbacks and logger groups, every leaf key gets a value of the wrong range or kind for its
current value (an int: -1 and 0; a float: -0.5 and 1.5; a bool: `maybe`; a string: `bogus`), and the
two check passes (`check_options`, `check_targets`) run on it; no data is read. A refusal must name the
dotted key. Strings that name a column, a file or a directory are legal until data is read, so
`bogus` there is reported but expected.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf, open_dict

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from seqtrain.config import ConfigError, check_options, check_targets  # noqa: E402

#: String keys whose values are names or paths the data decides on: any string is legal before data is read.
FREE_TEXT = ("_files", "_column", "columns", "cache_dir", "hub", "dirpath", "save_dir", "filename", "name", "project",
             "dirname", "group", "default_root_dir", "version", "monitor", "tags", "output_dir")


def bad_values(value: object) -> list[str]:
    if isinstance(value, bool):
        return ["maybe"]
    if isinstance(value, int):
        return ["-1", "0"]
    if isinstance(value, float):
        return ["-0.5", "1.5"]
    if isinstance(value, str):
        return ["bogus"]
    return []


def compose_config(overrides: list[str], out: str):
    with initialize_config_dir(str(ROOT / "configs"), version_base="1.3"):
        cfg = compose("train", overrides=[f"paths.output_dir={out}", *overrides], return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        del cfg["hydra"]
    return cfg


def probe(base: list[str], prefix: str, out: str) -> list[tuple[str, str, str]]:
    """(override, outcome, message) for every leaf under ``prefix``."""
    cfg = compose_config(base, out)
    leaves = OmegaConf.to_container(OmegaConf.select(cfg, prefix), resolve=True)
    results = []

    def walk(node: object, key: str) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if not k.startswith("_"):
                    walk(v, f"{key}.{k}")
            return
        for bad in bad_values(node):
            override = f"{key}={bad}"
            try:
                case = compose_config([*base, override], out)
                check_options(case)
                check_targets(case)
            except ConfigError as e:
                outcome = "refused" if key in str(e) else "refused WITHOUT the key"
                results.append((override, outcome, str(e).splitlines()[1].strip()))
                continue
            except Exception as e:  # noqa: BLE001 - Hydra's own refusals (e.g. a typed interpolation)
                results.append((override, f"failed ({type(e).__name__})", str(e).splitlines()[0]))
                continue
            free = isinstance(node, str) and any(key.endswith(s) or f".{s}" in key for s in FREE_TEXT)
            results.append((override, "accepted (a name/path: legal before data)" if free else "ACCEPTED", ""))

    walk(leaves, prefix)
    return results


def main() -> None:
    out = tempfile.mkdtemp()
    common = ["experiment=none", "recipe=none", "logger=none"]
    runs = [([*common, f"data={p.stem}"], "data") for p in sorted((ROOT / "configs" / "data").glob("*.yaml"))]
    runs += [(common, group) for group in ("model", "optimizer", "scheduler", "trainer", "task")]
    runs += [([*common, "optimizer=sgd"], "optimizer"), ([*common, "scheduler=plateau"], "scheduler"),
             ([*common, "scheduler=cosine"], "scheduler"), ([*common, "callbacks=early_stopping"], "callbacks"),
             ([*common, "callbacks=weight_average"], "callbacks"),
             (["experiment=none", "recipe=none", "logger=csv"], "logger"), (["experiment=none", "recipe=none", "logger=wandb"], "logger")]
    counts: dict[str, int] = {}
    for base, prefix in runs:
        for override, outcome, message in probe(base, prefix, out):
            counts[outcome] = counts.get(outcome, 0) + 1
            if outcome != "refused":
                print(f"{' '.join(b for b in base if b not in common)} {override}: {outcome} {message}")
    print("\n" + "  ".join(f"{k}: {v}" for k, v in sorted(counts.items())))


if __name__ == "__main__":
    main()
