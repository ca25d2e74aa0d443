import { test, expect } from "./fixtures";
import type { Page } from "@playwright/test";

/** The page is no wider than the screen: nothing scrolls sideways. */
async function expectNoSidewaysScroll(page: Page) {
  const widths = await page.evaluate(() => ({ page: document.documentElement.scrollWidth, screen: window.innerWidth }));
  expect(widths.page, "page width at a 375 px screen").toBeLessThanOrEqual(widths.screen);
}

test("at 375 px nothing scrolls sideways and the chart's time labels do not overlap", async ({ dashboard, page }) => {
  await page.setViewportSize({ width: 375, height: 740 });
  await dashboard.open("/?symbol=AAPL");
  await expectNoSidewaysScroll(page);

  const labels = async () =>
    (await dashboard.chart.locator(".xlabel").evaluateAll((els) =>
      els.filter((e) => getComputedStyle(e).display !== "none").map((e) => {
        const r = e.getBoundingClientRect();
        return { left: r.left, right: r.right };
      }),
    )).sort((a, b) => a.left - b.left);
  const shown = await labels();
  expect(shown.length).toBeGreaterThanOrEqual(2);
  for (let i = 1; i < shown.length; i++) expect(shown[i].left, "labels side by side").toBeGreaterThanOrEqual(shown[i - 1].right);

  // Panned, with "Back to live" shown among the chart's controls: still no sideways scroll.
  await dashboard.chart.locator(".plot").focus();
  await page.keyboard.press("ArrowLeft");
  await expect(page.getByTestId("chart-live")).toBeVisible();
  await expectNoSidewaysScroll(page);
});
