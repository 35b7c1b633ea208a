"""`ledger ui` in a real browser: Debian's chromium driven by Playwright against a real server
process on 127.0.0.1. Every test also checks that no request left 127.0.0.1 and that no
JavaScript dialog fired (the XSS payloads in the fixture repository would open one)."""

from __future__ import annotations

import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import Server
from tests.ui.conftest import XSS_NAME, XSS_TAG, UiRepo

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

# pixels of the series' colours (grid and axes are grey): a chart that drew its lines
COLOURED_PIXELS = """(sel) => {
  const c = document.querySelector(sel);
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 0; i < d.length; i += 4) {
    const r = d[i], g = d[i + 1], b = d[i + 2];
    if (d[i + 3] > 0 && Math.max(r, g, b) - Math.min(r, g, b) > 60) n++;
  }
  return n;
}"""


class Browser:
    def __init__(self, context: Any) -> None:
        self.context = context
        self.page = context.new_page()
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        context.on("request", lambda r: self.requests.append(r.url))
        self.page.on("dialog", self._dialog)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("console", self._console)

    def _console(self, message: Any) -> None:
        # a malformed filter is answered 400 on purpose; anything else is a script error
        if message.type == "error" and "status of 400" not in message.text:
            self.errors.append(message.text)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not shutil.which(CHROMIUM):
        pytest.skip("chromium is not installed (apt-get install chromium)")
    with sync_api.sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
        context = p.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, args=ARGS, headless=True,
            viewport={"width": 1280, "height": 900})
        yield Browser(context)
        context.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Any]:
    """The module's page; afterwards: no request left 127.0.0.1, no dialog, no script error."""
    start = len(browser.requests)
    yield browser.page
    outside = [u for u in browser.requests[start:]
               if not u.startswith(("http://127.0.0.1:", "data:", "blob:"))]
    assert outside == []
    assert browser.dialogs == []
    assert browser.errors == []


def until(page: Any, predicate: str, timeout: float = 15.0) -> None:
    """Poll a JavaScript predicate (`wait_for_function` evaluates strings, which the UI's CSP
    rightly forbids)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(f"() => Boolean({predicate})"):
        assert time.monotonic() < deadline, f"still false after {timeout} s: {predicate}"
        time.sleep(0.05)


def rows(page: Any) -> list[str]:
    return page.locator("#runs tbody tr td:nth-child(2)").all_inner_texts()


def test_experiments_runs_table_filter_sort_columns_and_compare(page: Any, ui: Server) -> None:
    page.goto(ui.url + "/")
    experiments = page.locator("#experiments").inner_text()
    assert "vision" in experiments and "nlp" in experiments
    page.click("text=vision")
    page.wait_for_selector("#runs tbody tr")
    assert sorted(rows(page)) == ["baseline", "sweep-0", "sweep-1", "sweep-2", "sweep-3"]
    assert "metrics.acc" in page.locator("#runs thead").inner_text()

    page.fill("#where", "params.model = 'mlp' AND metrics.acc > 0.55")
    page.press("#where", "Enter")
    until(page, "document.querySelectorAll('#runs tbody tr').length === 3")
    assert sorted(rows(page)) == ["sweep-1", "sweep-2", "sweep-3"]
    assert "where=" in page.url  # the filter is in the address, to share or reload

    page.click("#runs th[data-column='metrics.acc']")  # a metric sorts best first
    page.wait_for_selector("#runs th.sorted.desc[data-column='metrics.acc']")
    assert rows(page) == ["sweep-3", "sweep-2", "sweep-1"]
    page.click("#runs th[data-column='metrics.acc']")
    page.wait_for_selector("#runs th.sorted.asc[data-column='metrics.acc']")
    assert rows(page) == ["sweep-1", "sweep-2", "sweep-3"]

    page.fill("#where", "metrics.acc > AND")
    page.press("#where", "Enter")
    page.wait_for_selector("#where-error:not([hidden])")
    assert "position" in page.inner_text("#where-error")
    assert page.locator("#where.invalid").count() == 1

    page.fill("#where", "")
    page.press("#where", "Enter")
    until(page, "document.querySelectorAll('#runs tbody tr').length === 5")
    page.click("#columns-button")
    page.uncheck("#columns input[data-column='user']")
    until(page, "!document.querySelector(\"#runs th[data-column='user']\")")
    page.check("#columns input[data-column='params.lr']")
    page.wait_for_selector("#runs th[data-column='params.lr']")

    page.check("#runs tbody tr:nth-child(1) input")
    page.check("#runs tbody tr:nth-child(2) input")
    page.click("#compare-button")
    page.wait_for_selector("#compare")
    assert page.locator("#compare tr.differs").count() >= 1
    assert "params.lr" in page.locator("#compare").inner_text()
    assert page.evaluate(COLOURED_PIXELS, "#parcoords") > 50


def test_deleted_runs_on_request(page: Any, ui: Server) -> None:
    page.goto(ui.url + "/runs?experiment=nlp")
    page.wait_for_selector("#runs tbody tr")
    assert "discarded" not in rows(page)
    page.check("#deleted")
    until(page, "document.querySelectorAll('#runs tbody tr').length === 2")
    assert "discarded" in rows(page)
    assert page.locator("#runs tbody tr.deleted").count() == 1


def test_run_page_shows_everything_recorded(page: Any, ui: Server, ui_repo: UiRepo) -> None:
    page.goto(f"{ui.url}/runs/{ui_repo.ids['baseline']}")
    assert page.inner_text("#run-name") == "baseline"
    assert "lr" in page.inner_text("#params") and "tree" in page.inner_text("#params")
    assert "acc" in page.inner_text("#metrics") and "0.996667" in page.inner_text("#metrics")
    assert "team" in page.inner_text("#tags")
    head = ledger_head(ui_repo)
    assert head in page.inner_text("#source")
    chain = page.inner_text("#lineage")  # commit + inputs -> this run -> versions and stages
    assert chain.startswith(f"commit {head[:12]} + uncommitted changes")
    assert "data.csv" in chain and "→ this run → iris@v0.0.1 production staging" in chain
    assert "+# tuned by hand" in page.inner_text("#patch")
    assert page.locator("#patch .add").count() >= 1
    assert "python" in page.inner_text("#environment").lower()
    inputs = page.inner_text("#inputs")
    assert "data.csv" in inputs and re.search(r"[0-9a-f]{32}", inputs)
    artifacts = page.inner_text("#artifacts")
    for name in ("notes.txt", "config.json", "history.csv", "features.parquet", "plot.png"):
        assert name in artifacts
    page.wait_for_selector(".chart-panel[data-drawn]")  # the run's own curves


def ledger_head(repo: UiRepo) -> str:
    import subprocess

    return subprocess.run(["git", "-C", str(repo.path), "rev-parse", "HEAD"], env=repo.env,
                          capture_output=True, text=True, check=True).stdout.strip()


def test_artifact_previews(page: Any, ui: Server, ui_repo: UiRepo) -> None:
    base = f"{ui.url}/runs/{ui_repo.ids['baseline']}/artifacts/"
    page.goto(base + "notes.txt")
    assert "hello from the notes file" in page.inner_text("#preview")
    page.goto(base + "config.json")
    assert '"dropout": 0.1' in page.inner_text("#preview")
    page.goto(base + "history.csv")
    assert page.locator("#preview th").all_inner_texts() == ["epoch", "loss"]
    page.goto(base + "features.parquet")
    assert "3 rows" in page.inner_text("#preview")
    assert "gamma" in page.inner_text("#preview table")
    page.goto(base + "plot.png")
    assert page.eval_on_selector("#preview img", "img => img.complete && img.naturalWidth") == 8
    for name, payload in (("report.html", "<script>alert('artifact')</script>"),
                          ("fig.svg", "onload='alert(2)'")):
        page.goto(base + name)
        assert payload in page.inner_text("#preview pre")  # the source, as text
        raw = page.request.get(f"{ui.url}/raw/{ui_repo.ids['baseline']}/{name}")
        assert raw.headers["content-disposition"].startswith("attachment")
        assert raw.headers["content-security-policy"].startswith("sandbox")
        assert raw.headers["x-content-type-options"] == "nosniff"
        kind = raw.headers["content-type"]
        assert "html" not in kind and "svg" not in kind


def test_chart_of_several_runs_draws(page: Any, ui: Server, ui_repo: UiRepo) -> None:
    ids = ",".join(ui_repo.ids[k] for k in ("baseline", "sweep-0", "sweep-1", "sweep-2"))
    page.goto(f"{ui.url}/chart?runs={ids}&key=loss")
    page.wait_for_selector(".chart-panel[data-drawn='4']")
    assert page.evaluate(COLOURED_PIXELS, ".chart canvas") > 300
    legend = page.inner_text(".u-legend")
    assert "baseline" in legend and "sweep-2" in legend
    page.check("#chart-log")
    assert page.evaluate(COLOURED_PIXELS, ".chart canvas") > 300
    page.fill("#chart-smooth", "0.9")
    page.dispatch_event("#chart-smooth", "input")
    assert page.evaluate(COLOURED_PIXELS, ".chart canvas") > 300
    page.select_option("#chart-x", "relative")
    until(page, "document.querySelector('#chart-x').value === 'relative' && "
                           "document.querySelector('.u-legend').innerText.includes('seconds')")
    assert page.evaluate(COLOURED_PIXELS, ".chart canvas") > 100
    page.hover(".chart .u-over", position={"x": 200, "y": 100})  # hover values in the legend
    assert any(ch.isdigit() for ch in page.inner_text(".u-legend .u-value"))


def test_xss_payloads_stay_text(page: Any, ui: Server, ui_repo: UiRepo) -> None:
    page.goto(ui.url + "/runs?experiment=nlp")
    page.wait_for_selector("#runs tbody tr")
    assert XSS_NAME in rows(page)
    page.click("#columns-button")
    page.check("#columns input[data-column='tags.xss']")
    page.wait_for_selector("#runs th[data-column='tags.xss']")
    assert XSS_TAG in page.inner_text("#runs tbody")
    page.goto(f"{ui.url}/runs/{ui_repo.ids['xss']}")
    assert page.inner_text("#run-name") == XSS_NAME
    assert XSS_TAG in page.inner_text("#tags") and XSS_TAG in page.inner_text("#params")
    assert page.locator("img[src=x]").count() == 0
    page.goto(f"{ui.url}/compare?runs={ui_repo.ids['xss']},{ui_repo.ids['baseline']}")
    assert XSS_NAME in page.inner_text("#compare thead")
    page.goto(f"{ui.url}/audit")
    assert page.locator(f"#audit a[href='/runs/{ui_repo.ids['xss']}']").count() >= 1


def test_writes_from_the_run_page(page: Any, ui: Server, ui_repo: UiRepo) -> None:
    rid = ui_repo.ids["sweep-0"]
    page.goto(f"{ui.url}/runs/{rid}")
    page.fill("#tag-form input[name=key]", "review")
    page.fill("#tag-form input[name=value]", "<b>ok</b>")
    page.click("#tag-form button")
    page.wait_for_selector("#tags >> text=<b>ok</b>")
    page.click("#tags tr:has-text('review') button")
    page.wait_for_load_state()
    assert "review" not in page.inner_text("#tags")
    page.click("#delete-button")
    page.wait_for_selector(".badge.deleted")
    page.click("#delete-button")  # now "Restore run"
    page.wait_for_load_state()
    assert page.locator(".badge.deleted").count() == 0


def test_registry_and_audit_log(page: Any, ui: Server, ui_repo: UiRepo) -> None:
    page.goto(ui.url + "/models")
    assert "production: v0.0.1" in page.inner_text("#models")
    page.click("#models a")
    versions = page.inner_text("#versions")
    assert ledger_head(ui_repo)[:12] in versions  # the source commit of each version
    assert "v0.0.1" in versions and "production" in versions and "staging" in versions
    history = page.inner_text("#history")
    assert "registered" in history and "assigned" in history
    signed = page.inner_text("#history tr:has-text('iris#staging#1')")
    assert "verified alice@example.com" in signed  # `ledger verify` of the signed tag
    assert "unsigned" in page.inner_text("#history tr:has-text('iris#production#2')")
    page.click(f"#versions a[href='/runs/{ui_repo.ids['baseline']}']")
    assert page.inner_text("#run-name") == "baseline"
    page.goto(ui.url + "/audit")
    assert "finished" in page.inner_text("#audit")
    page.click(f"#audit a[href='/runs/{ui_repo.ids['deleted']}'] >> nth=0")
    assert page.inner_text("#run-name") == "discarded"


def test_read_only_offers_no_write(page: Any, ui_read_only: Server, ui_repo: UiRepo) -> None:
    page.goto(f"{ui_read_only.url}/runs/{ui_repo.ids['baseline']}")
    assert page.locator("header .badge").inner_text() == "read-only"
    assert page.locator("form[method=post]").count() == 0
    assert page.locator("#delete-button, #tag-form").count() == 0
