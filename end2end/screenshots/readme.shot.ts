import { test, expect } from "@playwright/test";
import path from "node:path";

for (const scheme of ["light", "dark"] as const) {
  test(`dashboard screenshot, ${scheme} theme`, async ({ page }) => {
    test.setTimeout(60_000);
    await page.setViewportSize({ width: 1440, height: 860 });
    await page.emulateMedia({ colorScheme: scheme });
    await page.goto("/");
    await expect(page.getByTestId("connection-status")).toHaveText("Live");
    // Let a few seconds of ticks build the sparklines and the chart.
    await expect
      .poll(async () => Number(await page.getByTestId("price-chart").getAttribute("data-candles")), { timeout: 40_000 })
      .toBeGreaterThan(24);
    await page.screenshot({ path: path.join(__dirname, `dashboard-${scheme}.png`) });
  });
}
