from mtbench.report.choices import PLOT_NAMES, SORT_KEYS
from mtbench.report.plots import PLOTS
from mtbench.report.tables import SORT_COLUMNS


def test_the_cli_offers_exactly_what_is_implemented():
    assert tuple(PLOTS) == PLOT_NAMES
    assert tuple(SORT_COLUMNS) == SORT_KEYS
