import { test, expect } from "./fixtures";

test("column headers sort the watchlist and say so to screen readers", async ({ dashboard, page }) => {
  await dashboard.open("/?symbols=MSFT,AAPL,BTC-USD,EUR-USD");
  const symbols = () => dashboard.rows.evaluateAll((rows) => rows.map((r) => r.getAttribute("data-symbol")));
  expect(await symbols()).toEqual(["MSFT", "AAPL", "BTC-USD", "EUR-USD"]);

  const bySymbol = page.locator('button[data-sort="symbol"]');
  await bySymbol.click();
  await expect.poll(symbols).toEqual(["AAPL", "BTC-USD", "EUR-USD", "MSFT"]);
  await expect(page.locator("th", { has: bySymbol })).toHaveAttribute("aria-sort", "ascending");

  await page.locator('button[data-sort="last"]').click();
  await page.locator('button[data-sort="last"]').click();
  // Descending by price: BTC-USD is by far the highest, EUR-USD the lowest.
  await expect.poll(async () => (await symbols())[0]).toBe("BTC-USD");
  await expect.poll(async () => (await symbols())[3]).toBe("EUR-USD");

  await page.locator('button[data-sort="last"]').click(); // back to the user's order
  await expect.poll(symbols).toEqual(["MSFT", "AAPL", "BTC-USD", "EUR-USD"]);
});
