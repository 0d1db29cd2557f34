"""The web chat page in a real headless Chromium against the real server and a tiny trained model.

Needs Debian's chromium and chromium-driver and the selenium package; skips (with the reason)
where they are missing. The screenshot goes to pytest's tmp dir, or to
$THERAPEUTIC_MOE_SCREENSHOT_DIR when set.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from inference_helpers import CRISIS_TEXT, load_assistant, make_model_dir, real_safety_available
from test_serve_uvicorn import ServerThread
from therapeutic_moe.serving.app import create_app
from therapeutic_moe.serving.settings import ServeSettings

pytestmark = pytest.mark.slow

CHROME_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1280,900"]


def browser_paths() -> tuple[str, str]:
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver = shutil.which("chromedriver")
    if not browser or not driver:
        pytest.skip("no headless browser: apt-get install -y chromium chromium-driver")
    return browser, driver


@pytest.fixture
def driver(tmp_path):
    webdriver = pytest.importorskip("selenium.webdriver", reason="pip install selenium")
    from selenium.webdriver.chrome.service import Service

    browser, chromedriver = browser_paths()
    options = webdriver.ChromeOptions()
    options.binary_location = browser  # explicit paths: selenium never tries to download a browser
    for flag in CHROME_FLAGS + [f"--user-data-dir={tmp_path / 'profile'}"]:
        options.add_argument(flag)
    d = webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)
    d.set_page_load_timeout(30)
    yield d
    d.quit()


@pytest.fixture
def server(tmp_path):
    assistant = load_assistant(make_model_dir(tmp_path, train_steps=2), safety=True)
    app = create_app(assistant, ServeSettings(max_new_tokens_limit=48))
    with ServerThread(app) as running:
        yield running


def send(driver, text):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    before = len(driver.find_elements(By.CSS_SELECTOR, ".msg.assistant[data-done='true']"))
    box = driver.find_element(By.ID, "message")
    box.send_keys(text)
    box.send_keys(Keys.ENTER)
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 60).until(
        lambda d: len(d.find_elements(By.CSS_SELECTOR, ".msg.assistant[data-done='true']")) > before)
    return driver.find_elements(By.CSS_SELECTOR, ".msg.assistant")[-1]


def test_streamed_reply_is_coloured_by_expert_with_legend(driver, server, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(server.url + "/")
    WebDriverWait(driver, 20).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#legend .legend-item")) == 4)
    legend = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#legend .legend-item")]
    assert legend == ["psychology", "mental_health", "bias_detection", "general_therapeutic"]
    assert "token context" in driver.find_element(By.ID, "model-info").text

    reply = send(driver, "I have been feeling tense before exams.")
    assert "error" not in reply.get_attribute("class")
    spans = reply.find_elements(By.CSS_SELECTOR, ".tok[data-expert]")
    assert spans, "no expert-coloured token spans"
    experts = {int(s.get_attribute("data-expert")) for s in spans}
    assert experts <= {0, 1, 2, 3}
    backgrounds = {s.value_of_css_property("background-color") for s in spans}
    assert all(b not in ("rgba(0, 0, 0, 0)", "transparent") for b in backgrounds)
    assert len(backgrounds) == len(experts)  # one colour per expert
    assert spans[0].get_attribute("title").split(" — ")[0] in legend
    assert reply.find_element(By.CSS_SELECTOR, ".shares").text.startswith("experts: ")

    if real_safety_available():
        crisis = send(driver, CRISIS_TEXT)
        assert "crisis" in crisis.get_attribute("class")
        badge = crisis.find_element(By.CSS_SELECTOR, ".crisis-badge").text
        assert badge.startswith("Crisis support reply")
        assert "988" in crisis.find_element(By.CSS_SELECTOR, ".body").text

    out_dir = Path(os.environ.get("THERAPEUTIC_MOE_SCREENSHOT_DIR", tmp_path))
    out_dir.mkdir(parents=True, exist_ok=True)
    shot = out_dir / "web_chat.png"
    assert driver.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
