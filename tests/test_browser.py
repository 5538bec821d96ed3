"""The MLflow UI in a real browser after a `select`: Debian's chromium, headless, driven by Selenium
through Debian's chromium-driver, against `autotl ui` on 127.0.0.1.

    AUTOTL_SCREENSHOT=docs/mlflow-ui.png pytest tests/test_browser.py   # also refreshes the README's picture
"""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

import autotl

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and DRIVER), reason="needs Debian's chromium and chromium-driver (.ci/run installs them)"
)


@pytest.fixture
def ui_after_select(tiny, colour_images, tmp_path):
    """A selection on the tiny model, then `autotl ui` on its store; yields (url, the select result)."""
    result = autotl.select(
        colour_images,
        3600,
        models=["tiny"],
        strategies=["linear_probe"],
        regularizers=["none"],
        progress=lambda message: None,
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    store = f"sqlite:///{(tmp_path / 'mlruns' / 'mlflow.db').resolve()}"
    server = subprocess.Popen(
        [sys.executable, "-m", "autotl", "ui", "--port", str(port), "--tracking-uri", store],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(url, timeout=5):
                    break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "the MLflow UI did not come up"
                time.sleep(1)
        yield url, result
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1500,900"):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(DRIVER))
    yield driver
    driver.quit()


def test_the_mlflow_ui_shows_the_selection_its_trials_and_its_leaderboard(ui_after_select, browser):
    import mlflow
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    url, result = ui_after_select
    experiment = mlflow.MlflowClient().get_run(result.run_id).info.experiment_id
    page = lambda: browser.find_element(By.TAG_NAME, "body").text  # noqa: E731
    wait = WebDriverWait(browser, 60)

    browser.get(f"{url}/#/experiments/{experiment}/runs")
    parent = wait.until(lambda driver: driver.find_element(By.XPATH, f"//a[contains(@href, '{result.run_id}')]"))
    wait.until(lambda driver: "autotl" in page())  # the experiment's name, which may render after its runs
    assert parent.text == "select colours"
    assert "trial 0:" not in page()  # nested runs start folded under their parent
    row = parent.find_element(By.XPATH, "./ancestor::div[@role='row']")
    row.find_element(By.XPATH, ".//button[contains(@data-component-id, 'runnamecellrenderer')]").click()
    wait.until(lambda driver: "trial 0: tiny + linear_probe + none" in page())
    trials = [row for row in result.result["leaderboard"] if row["trial"] is not None and row["run_id"]]
    assert all(f"trial {row['trial']}:" in page() for row in trials[:5])
    if os.environ.get("AUTOTL_SCREENSHOT"):
        browser.save_screenshot(os.environ["AUTOTL_SCREENSHOT"])

    browser.get(f"{url}/#/experiments/{experiment}/runs/{result.run_id}/artifacts")
    wait.until(lambda driver: driver.find_element(By.XPATH, "//*[text()='leaderboard.txt']")).click()
    wait.until(lambda driver: "state / why" in page())
    assert "tiny + linear_probe + none" in page() and "val accuracy" in page()
