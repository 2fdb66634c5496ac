"""Real headless Chromium for the console's browser tests: Debian's chromium + chromium-driver
(installed by scripts/install-browser.sh), driven by Selenium 4, and screenshots kept as test
artefacts under $VETBOT_DATA_DIR/screenshots/."""
from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

from tests.support.stack import ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
INSTALL_SCRIPT = ROOT / "scripts" / "install-browser.sh"
APT_UNAVAILABLE = 3  # install-browser.sh's exit code when apt cannot install anything here
WINDOW = (1280, 900)  # fixed, so screenshots compare run to run
MAX_SHOT_HEIGHT = 4000
WAIT = 15  # seconds a page may take to show what a step expects (the live feed promises 2 s)


class BrowserUnavailable(RuntimeError):
    """apt is not available to install the browser: the tests skip with this reason."""


def ensure_browser() -> None:
    """Installs Chromium, its driver and Chinese fonts if missing. Raises BrowserUnavailable only
    when apt itself is not there; any other failure is an error, never a silent skip."""
    result = subprocess.run(["bash", str(INSTALL_SCRIPT)], capture_output=True, text=True, timeout=1200)
    if result.returncode == APT_UNAVAILABLE:
        raise BrowserUnavailable(result.stderr.strip())
    if result.returncode != 0:
        raise RuntimeError(f"scripts/install-browser.sh failed ({result.returncode}):\n{result.stderr[-3000:]}")


def start_driver(width: int = WINDOW[0], height: int = WINDOW[1]):
    """A headless Chromium window of a fixed size, with a Chinese UI language. Selenium is pointed
    at the Debian driver, so Selenium Manager never tries to download a browser."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     f"--window-size={width},{height}", "--lang=zh-CN", "--hide-scrollbars",
                     "--autoplay-policy=no-user-gesture-required"):  # the takeover alert plays a sound
        options.add_argument(argument)
    options.add_experimental_option("prefs", {"intl.accept_languages": "zh-CN,zh"})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    return driver


def screenshot_dir() -> Path:
    directory = Path(os.environ.get("VETBOT_DATA_DIR") or ROOT / "var") / "screenshots"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def screenshot(driver, name: str, directory: Path | None = None, full_page: bool = True) -> Path:
    """Saves the page as <directory>/<name>.png (default $VETBOT_DATA_DIR/screenshots) and prints
    the path, so a test run lists its artefacts. full_page: the window is stretched to the page's
    height (up to MAX_SHOT_HEIGHT) for the shot, then put back."""
    safe = re.sub(r"[^\w.-]+", "-", name).strip("-") or "page"
    path = (directory or screenshot_dir()) / f"{safe}.png"
    size = driver.get_window_size()
    height = driver.execute_script("return document.documentElement.scrollHeight") if full_page else 0
    stretched = full_page and height > size["height"]
    if stretched:
        driver.set_window_size(size["width"], min(height + 150, MAX_SHOT_HEIGHT))  # + the window's frame
    try:
        driver.save_screenshot(str(path))
    finally:
        if stretched:
            driver.set_window_size(size["width"], size["height"])
    print(f"screenshot: {path}")
    return path


def console_errors(driver) -> list[str]:
    """The page's JavaScript errors so far (severe console entries), for a failing step's message."""
    try:
        return [entry["message"] for entry in driver.get_log("browser") if entry.get("level") == "SEVERE"]
    except Exception:  # noqa: BLE001 — logs are a diagnostic; their absence must not fail a test
        return []


def wait_for(driver, condition, timeout: float = WAIT, message: str = ""):
    """WebDriverWait with the page's URL and JS errors in the timeout message."""
    from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:  # a live page re-renders under us: an element gone stale is looked up again on the next poll
        return WebDriverWait(driver, timeout, poll_frequency=0.1,
                             ignored_exceptions=(StaleElementReferenceException,)).until(condition)
    except TimeoutException as error:
        raise AssertionError(f"{message or 'condition'} not met within {timeout}s on {driver.current_url}; "
                             f"JS errors: {console_errors(driver)}") from error


def wait_for_text(driver, text: str, timeout: float = WAIT, css: str = "body") -> float:
    """Waits until `text` is in the element's visible text; returns the seconds it took."""
    from selenium.webdriver.common.by import By

    started = time.monotonic()

    def shown(drv):
        return any(text in element.text for element in drv.find_elements(By.CSS_SELECTOR, css))

    wait_for(driver, shown, timeout, f"text {text!r} in {css}")
    return time.monotonic() - started


# --- accounts on a live console (the browser tests and the fuzz run) --------------------------------

def add_staff(env: dict, username: str, password: str, role: str = "operator", display_name: str = "") -> None:
    """Makes an account the way an admin does: `vetbot users add … --password-stdin` in the
    console's environment (its data directory and database)."""
    from tests.support.stack import BIN

    result = subprocess.run(
        [str(BIN / "vetbot"), "users", "add", username, "--display-name", display_name or f"测试{username}",
         "--role", role, "--password-stdin"],
        cwd=ROOT, env=env, input=password + "\n", capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"vetbot users add {username} failed: {result.stderr.strip() or result.stdout.strip()}")


def api_login(client, username: str, password: str) -> str:
    """Logs an httpx client in through POST /api/login (it keeps the session cookie); returns the
    CSRF token that changing requests carry as X-CSRF-Token."""
    answer = client.post("/api/login", json={"username": username, "password": password})
    if answer.status_code != 200:
        raise RuntimeError(f"login as {username}: {answer.status_code} {answer.text[:200]}")
    return answer.json()["csrf_token"]
