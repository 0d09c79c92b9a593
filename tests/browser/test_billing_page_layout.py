"""The billing page at a desk (1280 px) and on a phone (390 px): nothing runs off the screen
sideways, the chart's labels stay readable (at least 11 px as computed), a tapped bar shows
its day, the expanded day stacks its columns, and the phone shows every panel the desk does.
Screenshots go to tests/artifacts/."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

VIEWPORTS = {"desk": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
PANELS = {
    "prepaid": ["balance", "runway", "mtd-total", "forecast", "ledger"],
    "postpaid": ["upcoming-invoice", "due-date", "mtd-total", "forecast", "invoices"],
}
COMMON = ["period", "by-resource", "by-project", "by-cluster", "daily-chart", "usage-table"]

OVERFLOWING = """() => {
  const width = document.documentElement.clientWidth;
  const out = [];
  for (const el of document.querySelectorAll("body *")) {
    if (el.closest(".skip, .visually-hidden, thead")) continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    if (r.right > width + 0.5 || r.left < -0.5) {
      out.push(`${el.tagName}.${el.className} ${Math.round(r.left)}..${Math.round(r.right)}`);
    }
  }
  if (document.documentElement.scrollWidth > width) out.push("page scrolls sideways");
  return out;
}"""

LABEL_SIZES = """() => [...document.querySelectorAll(".chart .axis, .chart .x-label")]
  .map((el) => parseFloat(getComputedStyle(el).fontSize))"""


@pytest.mark.parametrize("viewport", VIEWPORTS)
@pytest.mark.parametrize("who", ["prepaid", "postpaid"])
def test_page_fits_the_screen_and_its_chart_reads(demo, login, page, screenshot, who, viewport):
    page.set_viewport_size(VIEWPORTS[viewport])
    login(demo[who])
    for name in PANELS[who] + COMMON:
        expect(page.get_by_test_id(name).first).to_be_visible()
    sizes = page.evaluate(LABEL_SIZES)
    assert sizes and min(sizes) >= 11, sizes

    day = page.locator("details.day").first
    day.locator("summary").click()
    expect(day.locator("table.lines")).to_be_visible()
    expect(day.get_by_text("Billed").first).to_be_visible()
    assert page.evaluate(OVERFLOWING) == []
    screenshot(f"billing-{who}-{viewport}")


def test_tapping_a_bar_shows_its_value_and_opens_its_day(demo, login, page):
    page.set_viewport_size(VIEWPORTS["phone"])
    login(demo["prepaid"])
    bar = page.locator("[data-testid=daily-chart] a.bar").last
    label = bar.get_attribute("aria-label")
    bar.click()
    value = page.locator(".slot:target .bar-value")
    expect(value).to_be_visible()
    expect(value).to_have_text(label)
    assert page.evaluate(OVERFLOWING) == []
    day = value.get_attribute("href")[1:]
    value.click()
    expect(page.locator(f"details#{day}")).to_have_attribute("open", "")
    assert page.evaluate(OVERFLOWING) == []
