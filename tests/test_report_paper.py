"""The paper's reference numbers: hand-picked values, internal consistency, and the join."""

import pandas as pd
import pytest

from mtbench.report.frame import records_frame
from mtbench.report.paper import paper_dataset, reference, with_paper


def value(model, metric, r=None, g=None, dataset="", source=None):
    ref = reference()
    rows = ref[(ref["model"] == model) & (ref["metric"] == metric) & (ref["dataset"] == dataset)]
    rows = rows[rows["r"].isna()] if r is None else rows[(rows["r"] == r) & (rows["g"] == g)]
    if source:
        rows = rows[rows["source"] == source]
    assert len(rows) >= 1, (model, metric, r, g, dataset)
    assert rows["value"].nunique() == 1
    return rows["value"].iloc[0]


@pytest.mark.parametrize(
    "model,r,g,dataset,metric,expected",
    [
        ("mtnet-64", 0.875, 1, "", "params_m", 43.02),
        ("mtnet-64", 0.875, 1, "", "gflops", 64.53),
        ("mtnet-200", 0.875, 1, "HACS", "top1", 87.224),
        ("mtnet-132", 0.875, 8, "", "params_m", 24.68),
        ("mtnet-132", 0.875, 8, "", "gflops", 10.42),
        ("mtnet-132", 0.875, 1, "", "latency_fwd_ms", 103.4),
        ("mtnet-200", 0.875, 1, "", "latency_b_ms", 218.95),
        ("mtnet-32", 0.5, 1, "HACS", "top1", 69.760),
        ("mtnet-132", 1, 8, "HACS", "top1", 82.696),
        ("mtnet-48", 0.625, 8, "HACS", "top1", 75.562),
        ("mtnet-64", 0.875, 8, "MiT", "top5", 56.412),
        ("mtnet-200", 0.875, 1, "K-700", "top5", 77.647),
    ],
)
def test_hand_picked_mtnet_values(model, r, g, dataset, metric, expected):
    assert value(model, metric, r, g, dataset) == expected


def test_hand_picked_baseline_values():
    assert value("r3d-34", "top1", dataset="HACS") == 74.818
    assert value("srtg-r2plus1d-101", "top5", dataset="MiT") == 59.114
    assert value("ircsn-152", "top1", dataset="K-700") == 55.819
    ref = reference()
    # The paper prints N/A for these: no row rather than a made-up number.
    assert ref[(ref["model"] == "tsm-r50") & (ref["dataset"] == "HACS")].empty
    assert ref[(ref["model"] == "r2plus1d-101") & (ref["dataset"] == "MiT")].empty


def test_tables_have_their_full_size():
    counts = reference()["source"].value_counts()
    assert counts["Table 2"] == 5 * 2 * 4  # r x g x depth
    assert counts["Table 3"] == 7 * 6  # configurations x columns
    # 22 models x 3 datasets x (top-1, top-5), less the 11 pairs printed N/A.
    assert counts["Table 4"] == (22 * 3 - 11) * 2


def test_repeated_numbers_agree_across_tables():
    ref = reference().fillna({"r": -1, "g": -1})
    spread = ref.groupby(["model", "r", "g", "dataset", "metric"])["value"].nunique()
    assert (spread == 1).all(), spread[spread > 1]
    # Table 2's r = 0.875 rows are Table 4's MTNet rows; Table 3's accuracy is Table 4's.
    assert value("mtnet-64", "top1", 0.875, 8, "HACS", "Table 2") == 84.642
    assert value("mtnet-64", "top1", 0.875, 8, "HACS", "Table 4") == 84.642
    assert value("mtnet-132", "top1", 0.875, 1, "K-700", "Table 3") == 57.603


def test_ratio_claim_of_the_text_holds_on_table_2():
    """The text: r = 0.875 is on average +1.9 points over vanilla (r = 1) across four depths."""
    ref = reference()
    t2 = ref[(ref["source"] == "Table 2") & (ref["g"] == 1)].set_index(["r", "model"])["value"]
    gain = (t2.loc[0.875] - t2.loc[1.0]).mean()
    assert gain == pytest.approx(1.93, abs=0.01)


def test_dataset_names():
    assert paper_dataset("kinetics-700") == "K-700"
    assert paper_dataset("K700") == "K-700"
    assert paper_dataset("hacs") == "HACS"
    assert paper_dataset("Moments in Time") == "MiT"
    assert paper_dataset("ucf101") == "ucf101"


def test_join_on_configuration_and_dataset():
    records = [
        {
            "cell_key": "a",
            "model": "mtnet-64",
            "family": "mtnet",
            "model_kwargs": {"g": 8},
            "params_total": 13_000_000,
            "top1": 80.0,
            "dataset": "hacs",
            "status": "ok",
        },
        {
            "cell_key": "b",
            "model": "mtnet-64",
            "family": "mtnet",
            "model_kwargs": {"r": 0.75},
            "params_total": 30_000_000,
            "status": "ok",
        },
        {"cell_key": "c", "model": "r3d-18", "family": "r3d", "model_kwargs": {}, "status": "ok"},
    ]
    joined = with_paper(records_frame(records))
    first, second, third = (joined.iloc[i] for i in range(3))
    assert first["r"] == 0.875  # the paper's default ratio fills in
    assert first["paper_params_m"] == 13.07
    assert first["paper_top1"] == 84.642
    assert first["paper_latency_fwdbwd_ms"] == 97.83
    assert pd.isna(second["paper_params_m"])  # Table 3 has only r = 0.875
    numbers = [c for c in joined.columns if c.startswith("paper_") and not c.endswith("_at")]
    assert third[numbers].isna().all()
    # Without a counter, nothing at the paper's input is known; latency is on the paper's GPU.
    assert pd.isna(first["matched_gflops"]) and pd.isna(first["matched_latency_fwd_ms"])
    assert first["paper_latency_fwd_ms_at"] == "Table 3, GPU"


def test_every_paper_number_carries_its_conditions():
    ref = reference()
    table3 = ref[ref["source"] == "Table 3"]
    assert (table3[table3["metric"] == "gflops"]["input"] == "16x256x256").all()
    assert (table3[table3["metric"].str.startswith("latency")]["device"] == "GPU").all()
    assert (table3[table3["metric"] == "params_m"]["classes"] == "700").all()
    assert (ref[ref["source"] == "Table 4"]["input"] != "").all()
