import { test, expect } from "./fixtures";

test("candles and lines render, intervals backfill, the crosshair shows OHLCV", async ({ dashboard, page }) => {
  await dashboard.open("/?symbol=AAPL");
  const canvas = dashboard.chart.getByTestId("chart-canvas");
  await expect.poll(() => dashboard.chart.getByTestId("candle").count()).toBeGreaterThan(0);
  await expect(canvas).toHaveAttribute("data-candles-drawn", /^[1-9]/);
  await expect(dashboard.chart.getByTestId("chart-last")).toHaveText(/^\d+\.\d{2}$/);

  const backfill = page.waitForResponse((r) => r.url().includes("/api/history?symbol=AAPL&interval=5s"));
  await dashboard.interval.selectOption("5s");
  expect((await backfill).status()).toBe(200);
  await expect.poll(() => dashboard.chart.getByTestId("candle").count()).toBeGreaterThan(0);

  // A line through the closes instead of candles (the table of candles stays: it is the data).
  await dashboard.mode.selectOption("line");
  await expect(canvas).toHaveAttribute("data-candles-drawn", "0");
  await expect(canvas).toHaveAttribute("data-line-points", /^[1-9]/);

  const plot = dashboard.chart.locator(".plot");
  const box = (await plot.boundingBox())!;
  await page.mouse.move(box.x + box.width - 4, box.y + box.height / 2);
  const tooltip = page.getByTestId("chart-tooltip");
  await expect(tooltip).toBeVisible();
  await expect(tooltip).toContainText("UTC");
  for (const field of ["O", "H", "L", "C", "V"]) await expect(tooltip.locator("dt", { hasText: field })).toHaveCount(1);
});
