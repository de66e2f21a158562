"""The paired bootstrap the benchmark reports share: the mean difference of one metric
between two setups over the questions both answered, with its 95% interval (10,000
resamples of questions, seed 0)."""
import numpy as np
import polars as pl


def paired(pq, a, b, metric, k):
    """Mean and 95% interval of setup b's `metric`@k minus setup a's, from a run's
    per_question table `pq`."""
    rows = pq.filter(pl.col("top_k") == k)
    x = rows.filter(pl.col("config_id") == a).select("question_id", metric)
    y = rows.filter(pl.col("config_id") == b).select("question_id", metric)
    j = x.join(y, on="question_id", suffix="_b").drop_nulls()
    d = (j[f"{metric}_b"] - j[metric]).to_numpy()
    rng = np.random.default_rng(0)
    means = d[rng.integers(0, len(d), (10_000, len(d)))].mean(axis=1)
    return d.mean(), np.percentile(means, 2.5), np.percentile(means, 97.5)
