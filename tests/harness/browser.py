"""A real headless Chromium (Debian's chromium and chromium-driver packages) driven by
Selenium, for tests that must see a page as a browser renders it.

No driver or browser is downloaded: Selenium is pointed at /usr/bin/chromedriver and
/usr/bin/chromium (scripts/test.sh installs them when missing). Each browser gets a fresh
profile directory and no background network traffic of its own.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM = "/usr/bin/chromium"


def browser_available() -> bool:
    return Path(CHROMEDRIVER).exists() and Path(CHROMIUM).exists()


@contextlib.contextmanager
def headless_chromium(profile_dir: Path) -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",  # CI runs as root, where Chromium's sandbox cannot start
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-dev-shm-usage",
        "--window-size=1400,1000",
        f"--user-data-dir={profile_dir}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        driver.set_page_load_timeout(30)
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile_dir, ignore_errors=True)


def log_in(browser: webdriver.Chrome, base_url: str, email: str, password: str) -> None:
    """Log in to the admin and wait until its index shows the user's tools. The login page's
    own URL already contains /admin/: a test that went on after a wait for that could load
    its next page before the login's POST had answered, and be sent back to log in."""
    browser.get(f"{base_url}/admin/login/?next=/admin/")
    browser.find_element(By.NAME, "username").send_keys(email)
    browser.find_element(By.NAME, "password").send_keys(password)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    WebDriverWait(browser, 20).until(
        expected_conditions.presence_of_element_located((By.ID, "user-tools"))
    )
