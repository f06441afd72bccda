"""index.html in a real browser (Debian's chromium, driven by Selenium through the system
chromedriver; nothing downloaded): it loads from file:// with no network request, every
interactive figure has one mark per cell, hover names the cell, a legend click hides a family,
a brushed box filters the table, and no JavaScript error is logged."""

import shutil
from pathlib import Path

import pytest

from mtbench.report.build import build_plots
from mtbench.report.frame import load_stores
from mtbench.report.interactive import VIEWS

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
FIXTURES = Path(__file__).parent / "fixtures" / "report"
NETWORK = ("http:", "https:", "ws:", "wss:", "ftp:")  # chrome:// and data: stay in the browser
# A browser that stops answering fails its test within this bound, never hangs the suite.
pytestmark = [pytest.mark.timeout(300), pytest.mark.xdist_group("report-browser")]
FIGURE = "params_m-vs-gflops"  # every substreams cell has both: all nine are marks
BOUND_S = 30  # how long the browser may take to draw or react, on a loaded machine
# Every named figure has a view and every Bokeh document is idle (all its roots drawn).
DRAWN = """
if (window.Bokeh === undefined || Bokeh.index === undefined) return false;
const names = new Set([...Bokeh.index.all_views()].map((v) => v.model.name));
const idle = Bokeh.documents.length > 0 && Bokeh.documents.every((doc) => doc.is_idle);
return idle && arguments[0].every((name) => names.has(name));
"""

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
WebDriverWait = pytest.importorskip("selenium.webdriver.support.wait").WebDriverWait
if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
    pytest.skip(
        f"no browser: {CHROMIUM} or {CHROMEDRIVER} is missing (apt-get install chromium "
        "chromium-driver; .ci/run does)",
        allow_module_level=True,
    )

# The plot views of one suite's figures, found by the figure names interactive.py gives them.
PLOTS = """
const views = [...Bokeh.index.all_views()];
const plots = views.filter((v) => v.model.name === arguments[0]);
const plot = plots[plots.length - 1];  // the substreams section comes after baselines
const glyphs = views.filter((v) => v.parent === plot && v.all_indices !== undefined);
"""


def wait_for(driver, condition, what: str):
    """`condition(driver)`'s first true value, polled by Selenium; fail naming `what`."""
    return WebDriverWait(driver, BOUND_S).until(condition, f"no {what} within {BOUND_S} s")


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser") / "reports"
    shutil.copytree(FIXTURES, root)
    build_plots(root, ["complexity"], ["png"])
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    profile = tmp_path_factory.mktemp("chromium-profile")
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--window-size=1300,1600",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    service = webdriver.ChromeService(executable_path=str(CHROMEDRIVER))
    driver = webdriver.Chrome(options=options, service=service)
    driver.get((root / "index.html").as_uri())
    driver.execute_script("document.querySelectorAll('div.interactive')[1].scrollIntoView()")
    names = [f"{x}-vs-{y}" for x, y, *_ in VIEWS]
    wait_for(driver, lambda d: d.execute_script(DRAWN, names), "drawn figures")
    yield driver, root
    driver.quit()


def test_the_page_loads_from_file_with_no_network_request(page):
    driver, _ = page
    import json

    urls = [
        json.loads(entry["message"])["message"]["params"]["request"]["url"]
        for entry in driver.get_log("performance")
        if '"Network.requestWillBeSent"' in entry["message"]
    ]
    assert any(url.startswith("file:") for url in urls)
    assert not [url for url in urls if url.startswith(NETWORK)], urls


def test_each_figure_has_one_mark_per_cell(page):
    driver, root = page
    cells = next(s for s in load_stores(root) if s.suite == "substreams").ok
    for x, y, *_ in VIEWS:
        expected = int((cells[x].notna() & cells[y].notna()).sum())
        marks = driver.execute_script(
            PLOTS + "return plot ? glyphs.reduce((n, g) => n + [...g.all_indices].length, 0) : 0;",
            f"{x}-vs-{y}",
        )
        assert marks == expected, (x, y, marks, expected)


def _mark_offset(driver, index: int = 0) -> tuple:
    """The plot element and the offset of a mark from its centre, in CSS pixels."""
    return driver.execute_script(
        PLOTS
        + """
        const g = glyphs[0], i = [...g.all_indices][arguments[1]];
        const column = (name) => g.model.data_source.get_column(name)[i];
        const [x, y] = plot.model.name.split("-vs-");
        const sx = plot.frame.x_scale.compute(column(x));
        const sy = plot.frame.y_scale.compute(column(y));
        const box = plot.el.getBoundingClientRect();
        return [plot.el, sx - box.width / 2, sy - box.height / 2, column("label"), column("model")];
        """,
        FIGURE,
        index,
    )


def _tooltip(driver) -> str:
    """The text of the figure's tooltips that are shown (Bokeh draws each in a shadow root)."""
    return driver.execute_script(
        PLOTS
        + """
        const hover = [...plot.tool_views.values()].find((v) => v._ttviews !== undefined);
        return [...hover._ttviews.values()]
          .filter((v) => v.el.isConnected && v.model.position !== null)
          .map((v) => v.el.shadowRoot.textContent).join(" ");
        """,
        FIGURE,
    )


def test_hovering_a_mark_shows_its_cell_and_model(page):
    driver, _ = page
    element, dx, dy, label, model = _mark_offset(driver)
    webdriver.ActionChains(driver).move_to_element_with_offset(element, int(dx), int(dy)).perform()
    wait_for(driver, lambda d: label in _tooltip(d), f"tooltip naming {label}")
    text = _tooltip(driver)
    assert label in text and model in text


def test_brushing_a_box_filters_the_table_to_the_selected_cells(page):
    driver, _ = page
    element, dx, dy, label, _ = _mark_offset(driver)
    chain = webdriver.ActionChains(driver)
    chain.move_to_element_with_offset(element, int(dx) - 6, int(dy) - 6).click_and_hold()
    chain.move_by_offset(12, 12).release().perform()

    def filtered(driver) -> tuple[list[int], list] | None:
        """The selected indices and the rows shown, once the table shows only those."""
        selected = driver.execute_script(
            PLOTS + "return [...glyphs[0].model.data_source.selected.indices];", FIGURE
        )
        rows = driver.execute_script(
            "return [...document.querySelectorAll('table.cells')].pop().tBodies[0].rows"
        )
        shown = [row for row in rows if row.is_displayed()]
        return (selected, shown) if selected and len(shown) == len(selected) else None

    selected, shown = wait_for(driver, filtered, "selection with the table filtered to it")
    assert len(selected) >= 1 and len(shown) == len(selected)
    assert label in [row.find_elements("tag name", "td")[1].text for row in shown]


def test_a_legend_click_hides_a_family(page):
    driver, _ = page
    family, element, dx, dy = driver.execute_script(
        PLOTS
        + """
        const legend = views.find((v) => v.parent === plot && v.model.items !== undefined);
        const box = legend.bbox, host = plot.el.getBoundingClientRect();
        const item = legend.model.items[0];
        return [item.label.value, plot.el, box.x + 20 - host.width / 2,
                box.y + 20 - host.height / 2];
        """,
        FIGURE,
    )
    webdriver.ActionChains(driver).move_to_element_with_offset(
        element, int(dx), int(dy)
    ).click().perform()

    def hidden(driver) -> list | None:
        """Each glyph's name and visibility, once the clicked family's is hidden."""
        script = PLOTS + "return glyphs.map((g) => [g.model.name, g.model.visible]);"
        visible = driver.execute_script(script, FIGURE)
        return visible if dict(visible)[family] is False else None

    visible = wait_for(driver, hidden, f"hidden {family}")
    assert dict(visible)[family] is False
    assert all(shown for name, shown in visible if name != family)


def test_no_javascript_error_is_logged(page):
    driver, _ = page
    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors
