"""The sampling policy's add form fits the page in a real browser: the inline rules table no
longer makes it scroll sideways (issue 22, item 5)."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from tests.harness.browser import browser_available, headless_chromium, log_in
from tests.harness.servers import create_superuser

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not browser_available(), reason="needs Debian's chromium-driver"),
]


@pytest.mark.parametrize("width", [1280, 1024])
def test_the_add_form_does_not_scroll_sideways(stack, tmp_path, width):
    base_url = stack.start_web()
    email, password = create_superuser(stack)
    with headless_chromium(tmp_path / "chromium-profile") as browser:
        browser.set_window_size(width, 900)
        log_in(browser, base_url, email, password)
        browser.get(f"{base_url}/admin/telemetry/samplingpolicy/add/")
        WebDriverWait(browser, 20).until(
            expected_conditions.visibility_of_element_located((By.ID, "rules-group"))
        )
        page_width, view_width = browser.execute_script(
            "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        browser.save_screenshot(str(tmp_path / f"policy-add-{width}.png"))
        assert page_width <= view_width, f"{page_width}px of page in a {view_width}px window"
