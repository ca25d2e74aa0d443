import { test, expect } from "./fixtures";

test("the view round-trips through the URL", async ({ dashboard, page }) => {
  await dashboard.open("/?symbols=AAPL,MSFT,BTC-USD&symbol=BTC-USD&mode=line&interval=5s");
  await expect(dashboard.rows).toHaveCount(3);
  await expect(dashboard.chartSymbol).toHaveText("BTC-USD");
  await expect(dashboard.mode).toHaveValue("line");
  await expect(dashboard.interval).toHaveValue("5s");
  await expect(dashboard.chart).toHaveAttribute("data-mode", "line");

  await dashboard.interval.selectOption("1m");
  await dashboard.mode.selectOption("candles");
  await expect(page).toHaveURL(/interval=1m/);
  await expect(page).not.toHaveURL(/mode=/); // candles is the default

  // A copied link reproduces the view.
  await dashboard.open(page.url());
  await expect(dashboard.rows).toHaveCount(3);
  await expect(dashboard.interval).toHaveValue("1m");
  await expect(dashboard.mode).toHaveValue("candles");
  await expect(dashboard.chartSymbol).toHaveText("BTC-USD");
});
