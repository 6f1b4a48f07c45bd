"""The page in a real headless browser (Debian's Chromium through chromedriver): a generated
post whose keyphrase is rendered in its image goes in through the file picker; the expected
keyphrase, the 7x7 heatmap over the image and the OCR line come out; errors show in the page.
/docs lists the operations with no CDN; the page asks once for the key a server wants."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from .conftest import LiveServer

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None or DRIVER is None,
        reason="needs Debian's chromium and chromium-driver (apt-get install -y chromium "
        "chromium-driver; .ci/run installs them where apt is available)",
    ),
]


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM  # the system browser: nothing is downloaded
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1280,1100"):  # fmt: skip
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def test_the_page_shows_keyphrases_heatmap_and_ocr(browser, ocr_server: LiveServer, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as seen
    from selenium.webdriver.support.ui import WebDriverWait

    post = ocr_server.model.dev[0]
    (gold,) = post.keyphrases  # an `ocr` post: its one keyphrase is only in the image
    assert gold not in post.text
    wait = WebDriverWait(browser, 60)
    browser.get(ocr_server.url + "/")
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#examples button"))  # the JS ran
    assert "mmkp" in browser.find_element(By.ID, "model-info").text
    browser.find_element(By.ID, "text").send_keys(post.text)
    image = Path(ocr_server.model.images / post.image).resolve()
    browser.find_element(By.ID, "file").send_keys(str(image))
    wait.until(seen.visibility_of_element_located((By.ID, "preview")))
    browser.find_element(By.ID, "submit").click()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#keyphrases li .kp"))
    shown = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#keyphrases li .kp")]
    assert gold in shown
    overlay = browser.find_element(By.ID, "overlay")
    wait.until(lambda d: overlay.get_attribute("data-heatmap") == "7x7")
    painted = browser.execute_script(
        """const c = document.getElementById('overlay');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
        return [n, c.width * c.height, c.width, c.height];"""
    )
    covered, pixels, width, height = painted
    assert (width, height) == (320, 240)  # the canvas has the image's own pixel size
    assert covered == pixels  # the 7x7 cells tile the whole image
    ocr = browser.find_element(By.ID, "ocr").text.lower()
    assert all(word in ocr for word in gold.split())
    assert browser.find_element(By.ID, "match-reading").text
    screenshot = tmp_path / "page.png"
    assert browser.save_screenshot(str(screenshot)) and screenshot.stat().st_size > 10_000
    assert not browser.find_element(By.ID, "error").is_displayed()

    text = browser.find_element(By.ID, "text")
    text.clear()
    text.send_keys("!!! ???")
    browser.find_element(By.ID, "submit").click()
    error = browser.find_element(By.ID, "error")
    wait.until(lambda d: error.is_displayed())
    assert "has no words after normalisation" in error.text and "(text)" in error.text


def test_docs_list_the_operations_offline(browser, ocr_server: LiveServer):
    """Swagger UI from the package's own assets (no CDN is reachable from the tests)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(ocr_server.url + "/docs")
    wait = WebDriverWait(browser, 60)
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".opblock-summary-path"))
    paths = {e.text for e in browser.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")}
    assert {"/v1/keyphrases", "/v1/keyphrases:batch", "/v1/model"} <= paths
    browser.get(ocr_server.url + "/redoc")
    wait.until(lambda d: "/v1/keyphrases" in d.find_element(By.TAG_NAME, "body").text)


def test_the_page_asks_for_the_api_key_once(browser, tiny, monkeypatch):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as seen
    from selenium.webdriver.support.ui import WebDriverWait

    from mmkp.serve.app import create_app
    from mmkp.serve.settings import ServeSettings

    from .conftest import serving

    monkeypatch.setenv("MMKP_BROWSER_KEY", "page-key")
    app = create_app(ServeSettings(api_key_env="MMKP_BROWSER_KEY"), predictor=tiny)
    with serving(app) as url:
        browser.get(url + "/")
        wait = WebDriverWait(browser, 60)
        alert = wait.until(seen.alert_is_present())
        alert.send_keys("page-key")
        alert.accept()
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#examples button"))
        assert "mmkp" in browser.find_element(By.ID, "model-info").text
        browser.find_element(By.ID, "text").send_keys("what a match last night")
        browser.find_element(By.ID, "submit").click()
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#keyphrases li .kp"))
        assert not seen.alert_is_present()(browser)  # asked once, for the whole page
