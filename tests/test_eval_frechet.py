import numpy as np
import pytest

from omnitalker.eval.frechet import frechet_distance, frechet_distance_of, gaussian_stats
from omnitalker.eval.metric import Clip, EvalItem, Measurement, Metric, MetricError, build_metric, register


def test_identical_sets_have_zero_distance():
    x = np.random.default_rng(0).normal(size=(500, 8))
    assert frechet_distance_of(x, x) == pytest.approx(0.0, abs=1e-8)


def test_one_dimensional_closed_form():
    # 1-D: d² = (μa − μb)² + (σa − σb)²
    d = frechet_distance(np.array([1.0]), np.array([[4.0]]), np.array([-2.0]), np.array([[9.0]]))
    assert d == pytest.approx(9.0 + 1.0)


def test_matches_closed_form_for_commuting_covariances():
    rng = np.random.default_rng(1)
    q, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    la, lb = rng.uniform(0.5, 3, 5), rng.uniform(0.5, 3, 5)
    ca, cb = q @ np.diag(la) @ q.T, q @ np.diag(lb) @ q.T
    mu_a, mu_b = rng.normal(size=5), rng.normal(size=5)
    expected = np.sum((mu_a - mu_b) ** 2) + np.sum((np.sqrt(la) - np.sqrt(lb)) ** 2)
    assert frechet_distance(mu_a, ca, mu_b, cb) == pytest.approx(expected, rel=1e-8)


def test_gaussian_stats_rejects_single_sample():
    with pytest.raises(ValueError):
        gaussian_stats(np.zeros((1, 3)))


def test_registry_and_default_mean_aggregate():
    @register("_test_len")
    class LengthMetric(Metric):
        name = "_test_len"

        def measure(self, item: EvalItem) -> Measurement:
            return Measurement({"n": float(len(item.generated.text)), "maybe": float("nan")})

    metric = build_metric("_test_len")
    items = [EvalItem(str(i), "en", Clip(text="x" * i), Clip()) for i in (2, 4)]
    assert metric.aggregate([metric.measure(it) for it in items]) == {"n": 3.0}
    with pytest.raises(MetricError, match="unknown metric"):
        build_metric("no_such_metric")
