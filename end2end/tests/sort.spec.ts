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

test("the sparklines' one canvas stays over its rows' slots as the table is re-sorted and resized", async ({ dashboard, page }) => {
  await dashboard.open("/?symbols=MSFT,AAPL,BTC-USD,EUR-USD");
  const symbols = () => dashboard.rows.evaluateAll((rows) => rows.map((r) => r.getAttribute("data-symbol")));
  const sheet = page.getByTestId("spark-sheet");
  // The sheet covers exactly the column of slots, and each slot's band of it has a line in it.
  const fit = () =>
    page.evaluate(() => {
      const canvas = document.querySelector<HTMLCanvasElement>('[data-testid="spark-sheet"]')!;
      const c = canvas.getBoundingClientRect();
      const slots = [...document.querySelectorAll('[data-testid="sparkline"]')].map((s) => s.getBoundingClientRect());
      const ctx = canvas.getContext("2d")!;
      const k = canvas.height / c.height;
      const inked = slots.map((s) => {
        const { data } = ctx.getImageData(0, Math.round((s.top - c.top) * k), canvas.width, Math.round(s.height * k));
        let n = 0;
        for (let i = 3; i < data.length; i += 4) n += data[i] > 0 ? 1 : 0;
        return n;
      });
      const off = Math.max(
        Math.abs(c.left - slots[0].left),
        Math.abs(c.top - slots[0].top),
        Math.abs(c.width - slots[0].width),
        Math.abs(c.bottom - slots[slots.length - 1].bottom),
      );
      return { off, bandsWithoutALine: inked.filter((n) => n === 0).length, slots: slots.length };
    });
  await expect(sheet).toHaveAttribute("data-rows", "MSFT,AAPL,BTC-USD,EUR-USD");
  await expect.poll(fit).toEqual({ off: expect.any(Number), bandsWithoutALine: 0, slots: 4 });
  expect((await fit()).off).toBeLessThan(0.5);

  // Re-sorted: the sheet draws the rows in their new order.
  await page.locator('button[data-sort="symbol"]').click();
  await expect.poll(symbols).toEqual(["AAPL", "BTC-USD", "EUR-USD", "MSFT"]);
  await expect(sheet).toHaveAttribute("data-rows", "AAPL,BTC-USD,EUR-USD,MSFT");

  // Narrower, then wider: the column moves and the sheet with it.
  await page.setViewportSize({ width: 1100, height: 800 });
  await expect.poll(async () => (await fit()).off).toBeLessThan(0.5);
  await page.setViewportSize({ width: 1440, height: 900 });
  await expect.poll(async () => (await fit()).off).toBeLessThan(0.5);
  expect((await fit()).bandsWithoutALine).toBe(0);
});
