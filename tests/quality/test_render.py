"""The report's numbers and pages: mean ± std across seeds, targets, a self-contained HTML plot."""

from __future__ import annotations

import re

import pytest

from lensflow.quality.render import METRICS, html_page, markdown, summarise


def _ranking(kind: str, seed: int, level: float) -> dict[str, object]:
    metrics = {m: level for m in METRICS}
    base = {m: level / 2 for m in METRICS}
    curve = {k: level * k / 20 for k in range(1, 21)}
    return {
        "kind": kind, "seed": seed, "metrics": metrics, "ndcg_curve": curve,
        "baseline": base, "baseline_ndcg_curve": {k: v / 2 for k, v in curve.items()}, "epochs": 3,
    }  # fmt: skip


@pytest.fixture
def summary() -> dict[str, object]:
    results = [
        _ranking("softmax-mf", 42, 0.50),
        _ranking("softmax-mf", 43, 0.46),
        _ranking("sasrec", 42, 0.30),
        _ranking("sasrec", 43, 0.32),
        {"kind": "rating", "seed": 42, "rmse": 0.91},
        {"kind": "rating", "seed": 43, "rmse": 0.93},
        {"kind": "u1", "seed": 42, "rmse": 0.90},
    ]
    return summarise(results, [42, 43])


def test_means_stds_first_seed_and_targets(summary: dict) -> None:
    mf = summary["models"]["softmax-mf"]
    assert mf["over_seeds"]["ndcg@10"]["mean"] == pytest.approx(0.48)
    assert mf["over_seeds"]["ndcg@10"]["std"] == pytest.approx(0.02828427, rel=1e-6)  # sample std
    assert mf["first_seed"]["ndcg@10"] == 0.50
    assert summary["models"]["popularity"]["over_seeds"]["ndcg@10"]["mean"] == pytest.approx(0.24)
    assert list(summary["models"]) == ["popularity", "softmax-mf", "sasrec"]
    targets = summary["targets"]
    assert targets["ndcg@10"]["met"] and targets["ndcg@10"]["model"] == "softmax-mf"
    assert targets["map@10"]["met"] is True  # 0.48 >= 0.15
    assert targets["rmse(u1)"]["met"] and summary["rating"]["over_seeds"]["mean"] == pytest.approx(0.92)


def test_a_missed_target_is_reported_as_missed() -> None:
    low = summarise([_ranking("softmax-mf", 42, 0.2), {"kind": "u1", "seed": 42, "rmse": 0.95}], [42])
    assert not low["targets"]["ndcg@10"]["met"] and not low["targets"]["rmse(u1)"]["met"]
    assert "not met" in markdown(low)


def test_markdown_has_every_row_and_the_anchors(summary: dict) -> None:
    text = markdown(summary, notes=["a note"])
    for row in ("| popularity |", "| softmax-mf |", "| sasrec |", "| BiVAE (MS table) |", "GLocal-K"):
        assert row in text
    assert "over seeds 42..43" in text and "seed42 (single split)" in text
    assert "0.4800 ± 0.0283" in text


def test_html_is_self_contained_with_one_curve_per_model(summary: dict) -> None:
    page = html_page(summary)
    assert "<script" not in page and "<link" not in page
    assert not re.search(r"(src|href)=\"https?:", page)
    assert page.count("<polyline") == 3 and "<svg" in page
    points = re.findall(r'points="([^"]+)"', page)[0].split()
    assert len(points) == 20  # k = 1..20
