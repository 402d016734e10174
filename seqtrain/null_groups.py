"""`GROUP=null` on the command line: what users type to drop a config group, which Hydra 1.3 refuses.

Hydra's defaults list takes a group override's value as a string or a list only
(`hydra/_internal/defaults_list.py`: "Config group override must be a string or a list. Got
NoneType"), although `experiment: null` in a defaults list is how a group is left empty. Before
Hydra sees the command line, each `GROUP=null` for a group of `configs/` becomes what it means:
`GROUP=none` where the group has a `none` option, `~GROUP` (drop it) where `train.yaml` leaves the
group empty by default, and otherwise a one-line error listing the group's options. Each rewrite is
said in one line on stderr.
"""

from __future__ import annotations

import sys
from pathlib import Path

from omegaconf import OmegaConf


class NullGroupError(ValueError):
    """`GROUP=null` for a group that must have one of its options."""


def rewrite_null_groups(args: list[str], config_dir: Path, primary: str = "train") -> list[str]:
    """``args`` (command-line overrides, without the program) with every `GROUP=null` rewritten; raises
    NullGroupError for a group that cannot be empty."""
    empty_by_default = _groups_empty_by_default(config_dir / f"{primary}.yaml")
    rewritten = []
    for arg in args:
        key, sep, value = arg.partition("=")
        group = config_dir / key
        is_null = value.strip().lower() == "null"  # Hydra's grammar: null in any case
        # `debug=none`: the same wish, for a group without a `none` option
        is_none = value.strip() == "none" and not (group / "none.yaml").is_file()
        if not sep or not (is_null or is_none) or not group.is_dir():
            rewritten.append(arg)
            continue
        if (group / "none.yaml").is_file():
            new = f"{key}=none"
        elif key in empty_by_default:
            new = f"~{key}"
        else:
            options = ", ".join(sorted(p.stem for p in group.glob("*.yaml")))
            raise NullGroupError(f"{arg}: {key} is a config group and needs one of its options ({options}); it cannot be {value}")
        why = "Hydra takes no null for a config group" if is_null else f"{key} has no option named none"
        print(f"{arg}: {why}; using {new} (what it means)", file=sys.stderr)
        rewritten.append(new)
    return rewritten


def _groups_empty_by_default(primary: Path) -> set[str]:
    """Groups whose entry in the primary config's defaults list is `GROUP: null` (optional or not)."""
    defaults = OmegaConf.to_container(OmegaConf.load(primary)).get("defaults", [])
    empty = set()
    for entry in defaults:
        if isinstance(entry, dict):
            for key, value in entry.items():
                if value is None:
                    empty.add(key.removeprefix("optional ").strip())
    return empty
