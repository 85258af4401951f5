"""Real-browser tests (marker ``browser``; ``make test-browser`` installs Debian's
Chromium and chromedriver first): ``report.html`` renders its tables and every
embedded figure; the live view (``defcoord viz``) steps when *Step* is pressed. Each
saves a screenshot in ``out/screenshots/`` for a person to look at."""

from __future__ import annotations

import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runs.cli import main

from tests_support import serving_viz, tiny, wait_for

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "out" / "screenshots"


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        raise AssertionError("Chromium is not installed: run `make test-browser`")
    return path


def headless(*args: str, profile: Path) -> subprocess.CompletedProcess[str]:
    """Chromium headless, as this machine allows it (no network, no sandbox as root)."""
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
    ]
    return subprocess.run(
        [chromium(), *flags, *args], capture_output=True, text=True, timeout=120, check=False
    )


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


def test_report_html_renders_in_chromium(tmp_path):
    from runs.runner import run_study

    out = tmp_path / "study"
    run_study(tiny(), out, jobs=1, quiet=True)
    assert main(["plot", str(out)]) == 0
    page = out / "figures" / "report.html"
    dom = headless("--dump-dom", page.as_uri(), profile=tmp_path / "profile")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert dom.stdout.count("<img") == 5 and dom.stdout.count("<figcaption>") == 5
    order = ["<h2>Question</h2>", "<h2>Findings</h2>", "<h2>Figures</h2>", "<h2>Detailed tables"]
    assert sorted(order, key=dom.stdout.index) == order  # a results section's order
    SHOTS.mkdir(parents=True, exist_ok=True)
    shot = SHOTS / "report.png"
    done = headless(
        "--window-size=1280,2400",
        f"--screenshot={shot}",
        page.as_uri(),
        profile=tmp_path / "profile2",
    )
    assert done.returncode == 0 and shot.is_file(), done.stderr[-2000:]
    assert png_size(shot) == (1280, 2400) and shot.stat().st_size > 50_000


@pytest.fixture
def live_view(tmp_path):
    """``defcoord viz`` on a free local port (see :func:`tests_support.serving_viz`)."""
    pytest.importorskip("solara", reason="the live view needs the viz extra")
    with serving_viz([sys.executable, "-m", "runs"], tmp_path) as url:
        yield url


def choose(browser, label: str, value: str) -> None:
    """Pick ``value`` in the sidebar's Vuetify select labelled ``label``."""
    from selenium.webdriver.common.by import By

    field = browser.find_element(
        By.XPATH,
        f"//label[normalize-space()='{label}']/ancestor::div[contains(@class, 'v-select')]",
    )
    field.find_element(By.CLASS_NAME, "v-select__slot").click()
    option = wait_for(
        lambda: [
            o
            for o in browser.find_elements(
                By.CSS_SELECTOR, ".menuable__content__active .v-list-item"
            )
            if o.text.strip() == value
        ],
        30,
        f"the option {value!r} of {label}",
    )
    option[0].click()


def test_the_live_view_steps_in_chromium(live_view, tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    options = webdriver.ChromeOptions()
    options.binary_location = chromium()
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--window-size=1400,1800"):
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'profile'}")
    driver = shutil.which("chromedriver")
    assert driver is not None, "chromedriver is not installed: run `make test-browser`"
    browser = webdriver.Chrome(service=Service(driver), options=options)
    try:
        browser.get(live_view)

        def step_button():
            return browser.find_elements(By.XPATH, "//button[normalize-space()='Step']")

        def counter() -> str:
            found = browser.find_elements(By.XPATH, "//*[starts-with(normalize-space(), 'Step:')]")
            return found[-1].text.strip() if found else ""

        def plots() -> list[bytes]:
            return [image.screenshot_as_png for image in browser.find_elements(By.TAG_NAME, "img")]

        def text() -> str:
            return str(browser.find_element(By.TAG_NAME, "body").text)

        def press_step(expected: int) -> None:
            step_button()[0].click()
            wait_for(lambda: counter() == f"Step: {expected}", 30, f"Step: {expected}")
            # the plots redraw after the counter: wait until all five are there
            wait_for(lambda: len(plots()) == 5, 30, "the five plots")
            wait_for(lambda: f"Round {expected}: " in text(), 30, f"the words of round {expected}")

        wait_for(step_button, 60, "the Step button")
        assert counter() == "Step: 0"
        # before the first round every panel waits for it (Markdown, rendered)
        wait_for(lambda: text().count("press Step to play the first round") == 6, 30, "the panels")
        # every slider shows its value (the seed's is 1, the jurisdiction's 100)
        thumbs = [e.text for e in browser.find_elements(By.CLASS_NAME, "v-slider__thumb-label")]
        assert "1" in thumbs and "100" in thumbs and all(t.strip() for t in thumbs), thumbs
        press_step(1)
        first = plots()
        time.sleep(1.0)
        press_step(2)
        press_step(3)
        time.sleep(1.0)
        last = plots()
        # coverage (its title names the round), deviations, utilities, gains and welfare
        # all redraw
        assert len(first) == len(last) == 5
        assert all(a != b for a, b in zip(first, last, strict=True))
        assert "Traceback" not in text() and "error in step" not in text()
        assert "keeps no belief" in text()  # the informed attacker's panel
        assert "defender 1 gained" in text()  # the deviation, in words
        SHOTS.mkdir(parents=True, exist_ok=True)
        assert browser.save_screenshot(str(SHOTS / "live_view.png"))

        # a game file that is not JSON, then Reset: a line on the page, not a traceback
        bad = tmp_path / "bad.json"
        bad.write_text("{ not json")
        box = browser.find_element(
            By.XPATH, "//label[contains(., 'Game file')]/following-sibling::input"
        )
        box.clear()
        box.send_keys(str(bad), Keys.ENTER)
        choose(browser, "Game", "file")
        browser.find_element(By.XPATH, "//button[normalize-space()='Reset']").click()
        wait_for(lambda: "Not applied" in text(), 30, "the notice")
        assert "is not JSON" in text() and "Traceback" not in text()
        assert counter() == "Step: 0"  # the last model that loaded, afresh
        assert browser.save_screenshot(str(SHOTS / "live_view_bad_file.png"))
    finally:
        browser.quit()
