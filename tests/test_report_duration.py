"""The accuracy-by-duration plot: records' top1_by_duration flattened, aggregated over seeds."""

import json

import numpy as np
import pytest
from matplotlib.container import ErrorbarContainer

from mtbench.report.frame import load_store
from mtbench.report.plots import PlotSkipped, accuracy_by_duration, duration_summary
from mtbench.report.tables import formatted, summary_table


def _record(label, seed, short, medium, long):
    return {
        "suite": "md",
        "cell_key": f"{label}-{seed}",
        "label": f"{label} train.seed={seed}",
        "model": label,
        "status": "ok",
        "seed": seed,
        "seed_group": label,
        "top1": 50.0,
        "top1_by_duration": {"short": short, "medium": medium, "long": long},
    }


def test_mean_and_spread_over_seeds(tmp_path):
    records = [
        _record("mtnet-32", 0, 40.0, 60.0, 80.0),
        _record("mtnet-32", 1, 50.0, 70.0, 90.0),
        _record("tsn-r18", 0, 30.0, 30.0, None),
        {"suite": "md", "cell_key": "m", "label": "r3d-18", "status": "ok", "top1": 50.0},
    ]
    (tmp_path / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    store = load_store(tmp_path)
    assert store.frame["top1_long"].iloc[:2].tolist() == [80.0, 90.0]
    frame = store.ok  # seeds averaged
    assert frame["label"].tolist() == ["mtnet-32", "tsn-r18 train.seed=0", "r3d-18"]
    summary = duration_summary(frame).set_index(["group", "bucket"])
    assert summary.loc[("mtnet-32", "short"), "mean"] == 45.0
    assert summary.loc[("mtnet-32", "long"), "std"] == pytest.approx(np.std([80, 90], ddof=1))
    assert summary.loc[("mtnet-32", "long"), "count"] == 2
    assert ("tsn-r18 train.seed=0", "long") not in summary.index
    assert "r3d-18" not in summary.index.get_level_values("group")
    fig = accuracy_by_duration(frame)
    bars = [c for c in fig.axes[0].containers if isinstance(c, ErrorbarContainer)]
    assert [c.get_label() for c in bars] == ["mtnet-32 (n=2)", "tsn-r18 train.seed=0 (n=1)"]
    assert bars[0].lines[0].get_ydata().tolist() == [45.0, 65.0, 85.0]


def test_skipped_without_durations(tmp_path):
    record = {"suite": "md", "cell_key": "a", "label": "r3d-18", "status": "ok", "top1": 50.0}
    (tmp_path / "results.jsonl").write_text(json.dumps(record) + "\n")
    with pytest.raises(PlotSkipped, match="top1_by_duration"):
        accuracy_by_duration(load_store(tmp_path).ok)


def test_table_has_a_column_per_bucket_with_spread(tmp_path):
    records = [_record("mtnet-32", 0, 40.0, 60.0, 80.0), _record("mtnet-32", 1, 50.0, 70.0, 90.0)]
    (tmp_path / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    text = formatted(summary_table(load_store(tmp_path).frame))
    row = text.iloc[0]
    assert row["Top-1 short (%)"] == f"45.0 ± {np.std([40, 50], ddof=1):.1f} (2)"
    assert row["Top-1 long (%)"] == f"85.0 ± {np.std([80, 90], ddof=1):.1f} (2)"
    plain = {"suite": "md", "cell_key": "a", "label": "r3d-18", "status": "ok", "top1": 50.0}
    (tmp_path / "results.jsonl").write_text(json.dumps(plain) + "\n")
    assert "Top-1 short (%)" not in summary_table(load_store(tmp_path).frame)


def test_the_report_reads_the_buckets_the_multiduration_data_writes():
    from mtbench.data.multiduration import BUCKETS
    from mtbench.report.frame import TOP1_BY_DURATION_KEYS

    assert TOP1_BY_DURATION_KEYS == BUCKETS
