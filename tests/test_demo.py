"""The web demo in a real headless Chromium (Debian's chromium + chromium-driver, driven by selenium): the app is
started as a user starts it (python -m omnitalker.demo) with the tiny smoke models, the page loads, bad input gives
a message (no traceback), a generation completes, the result video plays in the page and the downloads are offered.

Set OMNITALKER_DEMO_SCREENSHOT=path to keep a screenshot of the finished page (docs/img/demo.png is made this way).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
TRACEBACK_MARKERS = ("Traceback", 'File "', "site-packages")

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_server(url: str, proc: subprocess.Popen, log: Path, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the demo exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(1)
    pytest.fail(f"the demo did not answer on {url} within {timeout} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def demo_url(smoke_models, tmp_path_factory):
    dit, renderer = smoke_models
    out = tmp_path_factory.mktemp("demo")
    port = free_port()
    log = out / "server.log"
    cmd = [sys.executable, "-m", "omnitalker.demo", f"dit={dit}", f"renderer={renderer}", "vocoder=griffin_lim",
           "device=cpu", "steps=2", f"port={port}", f"outputs={out / 'jobs'}"]
    with open(log, "w") as handle:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT,
                                env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"})
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_for_server(url, proc, log)
        yield url, log
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip("Debian's chromium and chromium-driver are not installed (apt-get install chromium "
                    "chromium-driver; .ci/run does it when it runs as root)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--mute-audio",
                "--window-size=1400,1500", "--autoplay-policy=no-user-gesture-required",
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"):  # the page may reach localhost only
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(120)
    try:
        yield driver
    finally:
        driver.quit()


def status_text(driver) -> str:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, "#status textarea").get_attribute("value") or ""


def wait_status(driver, predicate, timeout: float) -> str:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout, poll_frequency=0.5).until(lambda d: predicate(status_text(d)))
    return status_text(driver)


def generate_and_wait(driver, timeout: float = 600) -> str:
    """Click Generate and return the final status. The status box is first overwritten in the page only: every run
    goes through "Generating..." before its outcome, so the final text is written again even when it repeats."""
    from selenium.webdriver.common.by import By

    box = driver.find_element(By.CSS_SELECTOR, "#status textarea")
    driver.execute_script("arguments[0].value = 'waiting for the page';", box)
    driver.find_element(By.CSS_SELECTOR, "#generate").click()
    return wait_status(driver, lambda s: s.startswith(("Done", "Error")), timeout)


def test_page_generates_plays_and_offers_downloads(demo_url, browser, reference, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    url, log = demo_url
    clip, truth, _ = reference
    browser.get(url)
    WebDriverWait(browser, 120).until(ec.element_to_be_clickable((By.CSS_SELECTOR, "#generate")))
    assert "OmniTalker" in browser.title

    # bad input: no text -> the project's text error, in words; no traceback, no video
    status = generate_and_wait(browser, timeout=120)
    assert status.startswith("Error") and "text to speak is empty" in status, status
    browser.find_element(By.CSS_SELECTOR, "#text textarea").send_keys("Hello there, this is the demo.")
    # bad input: nothing uploaded -> a message naming what is missing
    status = generate_and_wait(browser, timeout=120)
    assert status.startswith("Error") and "upload a reference video" in status, status
    assert not any(marker in browser.page_source for marker in TRACEBACK_MARKERS)

    browser.find_element(By.CSS_SELECTOR, "#ref_video input[type=file]").send_keys(str(clip))
    browser.find_element(By.CSS_SELECTOR, "#ref_codes input[type=file]").send_keys(str(truth))
    browser.find_element(By.CSS_SELECTOR, "#face_crop input[type=checkbox]").click()
    WebDriverWait(browser, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#ref_video video"))
    status = generate_and_wait(browser)
    assert status.startswith("Done"), f"{status}\n{log.read_text()[-3000:]}"

    # the result plays in the page: metadata loaded, and time advances while playing
    video = WebDriverWait(browser, 60).until(ec.presence_of_element_located((By.CSS_SELECTOR, "#result_video video")))
    WebDriverWait(browser, 60).until(lambda d: d.execute_script("return arguments[0].readyState", video) >= 2)
    duration = browser.execute_script("return arguments[0].duration", video)
    assert duration > 0.5, duration
    browser.execute_script("arguments[0].muted = true; arguments[0].currentTime = 0; arguments[0].play();", video)
    WebDriverWait(browser, 30).until(lambda d: d.execute_script("return arguments[0].currentTime", video) > 0.3)
    assert browser.execute_script("return arguments[0].error", video) is None

    # downloads: the mp4, the wav and the codes are linked, and the mp4 link serves an mp4
    links = WebDriverWait(browser, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#downloads a[href]"))
    hrefs = [a.get_attribute("href") for a in links]
    assert {h.rsplit(".", 1)[-1].split("?")[0] for h in hrefs} >= {"mp4", "wav", "npz"}, hrefs
    mp4 = next(h for h in hrefs if ".mp4" in h)
    with urllib.request.urlopen(mp4, timeout=30) as response:
        assert response.read(12)[4:8] == b"ftyp"
    assert not any(marker in browser.page_source for marker in TRACEBACK_MARKERS)

    browser.execute_script("arguments[0].pause(); arguments[0].currentTime = 1.0;", video)
    time.sleep(0.5)
    shot = Path(os.environ.get("OMNITALKER_DEMO_SCREENSHOT") or tmp_path / "demo.png")
    shot.parent.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
