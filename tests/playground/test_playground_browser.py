"""End to end in a real headless Chromium: the page trains spiral below 0.1 test loss.

Runs ``python -m deepgrad.playground`` on a free loopback port and drives Debian's
``chromium`` with Playwright (``executable_path``, never ``playwright install``).
Skipped, with the reason, when Playwright, Chromium or the server's packages are
missing. ``DEEPGRAD_UPDATE_SCREENSHOT=1`` saves the screenshot to docs/playground.png
(otherwise to a temporary folder).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("starlette", reason="the playground server needs starlette: pip install starlette uvicorn")
pytest.importorskip("uvicorn", reason="the playground server needs uvicorn: pip install uvicorn")
sync_api = pytest.importorskip("playwright.sync_api", reason="the browser test needs Playwright for Python: "
                                                             "pip install playwright (no browser download)")

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = next((p for p in (os.environ.get("DEEPGRAD_CHROMIUM"), shutil.which("chromium"),
                             "/usr/bin/chromium", shutil.which("chromium-browser")) if p and os.path.exists(p)), None)
if CHROMIUM is None:
    pytest.skip("no Chromium found: install Debian's chromium (apt-get install chromium) "
                "or set DEEPGRAD_CHROMIUM to its path", allow_module_level=True)
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-m", "deepgrad.playground", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    out = proc.stdout.read().decode() if proc.poll() is not None else ""
                    pytest.fail(f"the playground server did not start on port {port}: {out}")
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log = proc.stdout.read().decode(errors="replace")
        proc.stdout.close()
    assert "Traceback" not in log and "ERROR" not in log, log


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        try:
            instance = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, timeout=30000)
        except Exception as error:  # noqa: BLE001 - a broken browser install is a skip, not a failure
            pytest.skip(f"Chromium at {CHROMIUM} did not start: {error}")
        yield instance
        instance.close()


def open_page(browser, url, height=950):
    # bypass_csp: Playwright evaluates its wait conditions as strings, which the page's CSP forbids
    page = browser.new_page(viewport={"width": 1400, "height": height}, bypass_csp=True)
    page.set_default_timeout(15000)
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("console", lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None)
    page.goto(url)
    page.wait_for_function("document.body.dataset.epoch !== undefined")
    return page, problems


def wait_url(page, text):
    page.wait_for_function("t => location.search.includes(t)", arg=text)


def heatmap_pixels(page):
    return page.evaluate("Array.from(document.getElementById('heatmap').getContext('2d')"
                         ".getImageData(0, 0, 100, 100).data)")


def test_spiral_trains_below_0_1_in_chromium(server, browser, tmp_path):
    page, problems = open_page(browser, server + "/", height=880)
    assert page.title() == "deepgrad Playground"
    assert page.text_content("#num-layers") == "2 hidden layers"

    page.click('.dataset[data-dataset="spiral"]')
    wait_url(page, "dataset=spiral")
    for feature in ("sinX", "sinY"):
        page.click(f'.node[data-feature="{feature}"]')
        wait_url(page, f"{feature}=true")
    # two hidden layers, built with the +/- buttons: remove both, add two, widen each to 8
    for _ in range(2):
        page.click("#remove-layer")
    wait_url(page, "networkShape=&")
    assert page.text_content("#num-layers") == "0 hidden layers"
    page.click("#add-layer")
    wait_url(page, "networkShape=2&")
    page.click("#add-layer")
    wait_url(page, "networkShape=2,2&")
    for layer in (1, 2):
        for size in range(3, 9):
            page.click(f'.layer-head button[data-layer="{layer}"][data-delta="1"]')
            wait_url(page, "networkShape=" + ("{},2" if layer == 1 else "8,{}").format(size) + "&")
    assert page.text_content("#num-layers") == "2 hidden layers"
    assert page.locator(".node.hidden").count() == 16
    page.select_option("#optimizer", "adam")
    wait_url(page, "optimizer=adam")
    page.wait_for_function("document.body.dataset.epoch === '0'")
    before = heatmap_pixels(page)

    page.click("#play-pause-button")
    page.wait_for_function("parseFloat(document.getElementById('loss-test').textContent) < 0.1", timeout=40000)
    epoch = int(page.get_attribute("body", "data-epoch"))
    assert epoch > 0
    after = heatmap_pixels(page)
    changed = sum(1 for i in range(0, len(before), 4)
                  if abs(before[i] - after[i]) + abs(before[i + 2] - after[i + 2]) > 30)
    assert changed > 0.2 * 100 * 100, f"only {changed} heat-map pixels changed"

    page.wait_for_timeout(1500)  # a little more training for the picture
    page.click("#play-pause-button")
    page.wait_for_selector("#play-pause-button:not(.playing)")
    paused_at = page.get_attribute("body", "data-epoch")

    # hover a neuron: its map is shown large; hover and click a link: its weight, edited
    page.hover('.node[data-layer="1"][data-index="0"]')
    page.wait_for_function("document.getElementById('focus-label').textContent.includes('layer 1, neuron 1')")
    page.mouse.move(5, 860)
    page.wait_for_function("document.getElementById('focus-label').textContent === ''")
    link = page.locator('.link-hit[data-link="2-0-0"]')
    link.hover()
    assert "Weight layer 2, neuron 1 → the output" in page.text_content("#tooltip")
    link.click()
    page.fill("#editor-input", "0.5")
    page.press("#editor-input", "Enter")
    page.wait_for_timeout(300)
    page.mouse.move(5, 860)
    link.hover()
    page.wait_for_function("document.getElementById('tooltip').textContent.endsWith('0.500')")
    link.click()
    page.fill("#editor-input", "lots")
    page.press("#editor-input", "Enter")
    page.wait_for_selector("#message:not([hidden])")
    assert "must be a number" in page.text_content("#message-text")
    page.click("#message-close")

    page.mouse.move(5, 860)
    page.check("#showTestData")
    wait_url(page, "showTestData=true")
    assert page.get_attribute("body", "data-epoch") == paused_at
    assert float(page.text_content("#loss-test")) < 0.1 or float(page.text_content("#loss-train")) < 0.1
    assert problems == []

    target = ROOT / "docs" / "playground.png" if os.environ.get("DEEPGRAD_UPDATE_SCREENSHOT") == "1" \
        else tmp_path / "playground.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target))
    assert target.stat().st_size > 20000
    page.close()


def test_bad_url_settings_show_a_message_and_a_second_tab_is_independent(server, browser):
    page, problems = open_page(browser, server + "/?dataset=xor&noise=99&batchSize=-3")
    page.wait_for_selector("#message:not([hidden])")
    page.wait_for_function("document.getElementById('message-text').textContent.includes('batch')")
    text = page.text_content("#message-text")  # every bad setting is reported, not only the last
    assert "noise must be a whole number from 0 to 50" in text and "batch" in text.lower()
    wait_url(page, "noise=0")
    other, _ = open_page(browser, server + "/?dataset=gauss")
    other.click("#next-step-button")
    other.wait_for_function("document.body.dataset.epoch === '1'")
    assert page.get_attribute("body", "data-epoch") == "0"
    assert "dataset=xor" in page.url and "dataset=gauss" in other.url
    # The diagnostics sit right under the loss chart, above the decision map.
    top = {sel: page.eval_on_selector(sel, "e => e.getBoundingClientRect().top")
           for sel in ("#loss-chart", "#diagnostics", "#heatmap")}
    assert top["#loss-chart"] < top["#diagnostics"] < top["#heatmap"]
    assert problems == []
    page.close()
    other.close()
