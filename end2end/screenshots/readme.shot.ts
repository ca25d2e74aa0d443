import { test, expect } from "@playwright/test";
import path from "node:path";

// Light: the market's past at one-minute candles, zoomed out, with Bollinger bands, an EMA and RSI;
// dark: the live one-second chart.
for (const [scheme, view, zoomOut] of [["light", "/?symbol=NVDA&interval=1m&ind=bb20-2,ema50,rsi14", 2], ["dark", "/", 0]] as const) {
  test(`dashboard screenshot, ${scheme} theme`, async ({ page }) => {
    test.setTimeout(60_000);
    await page.setViewportSize({ width: 1440, height: 860 });
    await page.emulateMedia({ colorScheme: scheme });
    await page.goto(view);
    await expect(page.getByTestId("connection-status")).toHaveText("Live");
    // Let a few seconds of ticks build the sparklines and the chart.
    await expect
      .poll(async () => Number(await page.getByTestId("price-chart").getAttribute("data-candles")), { timeout: 40_000 })
      .toBeGreaterThan(24);
    // The readouts past the page's first seconds (their 5 s window starts with the resync).
    await expect
      .poll(async () => parseFloat((await page.getByTestId("latency").textContent()) ?? ""), { timeout: 20_000 })
      .toBeLessThan(20);
    for (let i = 0; i < zoomOut; i++) await page.getByTestId("zoom-out").click();
    await page.screenshot({ path: path.join(__dirname, `dashboard-${scheme}.png`) });
  });
}
