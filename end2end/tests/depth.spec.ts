import { test, expect, allowConsoleErrorsWhile, SERVER_AWAY } from "./fixtures";
import { OwnServer } from "./server";
import type { Page } from "@playwright/test";

/** The ladder as shown: `side price size` per level, asks then bids, best first on each side. */
async function ladder(page: Page): Promise<string[]> {
  const rows = await page.getByTestId("book-level").evaluateAll((els) =>
    els.map((e) => ({
      side: e.getAttribute("data-side") ?? "",
      price: e.getAttribute("data-price") ?? "",
      size: e.querySelectorAll("td")[1]?.textContent ?? "",
    })),
  );
  const asks = rows.filter((r) => r.side === "ask").reverse();
  const bids = rows.filter((r) => r.side === "bid");
  return [...asks, ...bids].map((r) => `${r.side} ${r.price} ${r.size}`);
}

/** The server's book of `symbol` (`/api/book`), as the ladder shows its ten best levels a side. */
async function serverLadder(page: Page, base: string, symbol: string): Promise<string[]> {
  const [book, symbols] = await Promise.all([
    page.request.get(`${base}/api/book?symbol=${symbol}`).then((r) => r.json()),
    page.request.get(`${base}/api/symbols`).then((r) => r.json()),
  ]);
  const decimals: number = symbols.find((s: { symbol: string }) => s.symbol === symbol).decimals;
  const price = (units: number) => (units / 10 ** decimals).toFixed(decimals);
  const side = (name: string, levels: [number, number][]) =>
    levels.slice(0, 10).map(([p, s]) => `${name} ${price(p)} ${s}`);
  return [...side("ask", book.asks), ...side("bid", book.bids)];
}

test("the ladder, depth chart and tape are server-rendered, then live, with every checksum right for 30 s", async ({ dashboard, page }) => {
  // Before hydration: the first HTML already holds the book and the tape.
  const html = await (await page.request.get("/?symbol=BTC-USD")).text();
  expect(html).toContain('data-testid="order-book"');
  expect((html.match(/data-testid="book-level"/g) ?? []).length).toBe(20);
  expect(html).toContain('data-testid="trade-row"');

  await dashboard.open("/?symbol=BTC-USD");
  const book = page.getByTestId("order-book");
  await expect(book.getByTestId("book-level")).toHaveCount(20);
  await expect(page.getByTestId("spread")).toContainText(/Spread \d+\.\d{2} · Mid \d+\.\d{2,3}/);
  await expect(page.getByTestId("depth-chart")).toHaveAttribute("data-bids", /^[1-9]/);
  // Best bid below best ask, both priced like the quote.
  const levels = await ladder(page);
  const bestAsk = Number(levels[0].split(" ")[1]);
  const bestBid = Number(levels[10].split(" ")[1]);
  expect(bestBid).toBeLessThan(bestAsk);

  // Live: the ladder changes and new prints arrive at the top of the tape.
  const firstPrint = await page.getByTestId("trade-row").first().textContent();
  await expect.poll(() => ladder(page), { message: "the ladder moves" }).not.toEqual(levels);
  await expect
    .poll(() => page.getByTestId("trade-row").first().textContent(), { message: "a new print on the tape" })
    .not.toBe(firstPrint);
  await expect(page.getByTestId("trade-row").first()).toHaveAttribute("data-side", /^(buy|sell)$/);

  // Every update's checksum is checked by the page: 300 of them (about 30 s of BTC-USD at
  // 20 frames a second), none wrong.
  const checksum = page.getByTestId("book-checksum");
  await expect
    .poll(async () => Number(await checksum.getAttribute("data-checked")), { timeout: 45_000, message: "300 updates checked" })
    .toBeGreaterThanOrEqual(300);
  await expect(checksum).toHaveAttribute("data-mismatches", "0");
  await expect(checksum).toHaveAttribute("data-state", "ok");
});

test("after a server restart the book resyncs and matches /api/book", async ({ dashboard, page }) => {
  // Two frames a second, so the page and /api/book can be caught at the same frame.
  const server = await OwnServer.start({ TICK_RATE_HZ: "2" });
  try {
    await dashboard.open(`${server.url}/?symbol=AAPL`);
    await expect.poll(async () => (await ladder(page)).join("|") === (await serverLadder(page, server.url, "AAPL")).join("|")).toBe(true);
    await allowConsoleErrorsWhile(SERVER_AWAY, async () => {
      await server.stop();
      await expect(dashboard.status).toHaveText("Reconnecting");
      await server.launch();
      await expect(dashboard.status).toHaveText("Live", { timeout: 20_000 });
    });
    // A new run of the market: the page's book is replaced by the new run's, exactly.
    await expect
      .poll(async () => (await ladder(page)).join("|") === (await serverLadder(page, server.url, "AAPL")).join("|"), {
        message: "the page's ladder is the server's book",
      })
      .toBe(true);
    await expect(page.getByTestId("book-checksum")).toHaveAttribute("data-mismatches", "0");
  } finally {
    await server.stop(page);
  }
});

test("depth follows the chart's symbol and can be turned off, in the URL", async ({ dashboard, page }) => {
  await dashboard.open("/?symbol=AAPL");
  await expect(page.getByTestId("book-level")).toHaveCount(20);
  const aapl = await ladder(page);

  await dashboard.row("EUR-USD").click();
  await expect(dashboard.chartSymbol).toHaveText("EUR-USD");
  // EUR-USD quotes at five decimals: the ladder now shows its book.
  await expect.poll(async () => (await ladder(page))[0] ?? "").toMatch(/^ask 1\.\d{5} \d+$/);
  expect(await ladder(page)).not.toEqual(aapl);

  await page.getByTestId("depth-toggle").click();
  await expect(page).toHaveURL(/depth=off/);
  await expect(page.getByTestId("order-book")).toHaveCount(0);
  await dashboard.expectPricesToMove();
  await page.reload();
  await expect(dashboard.status).toHaveText("Live");
  await expect(page.getByTestId("order-book")).toHaveCount(0);

  await page.getByTestId("depth-toggle").click();
  await expect(page).not.toHaveURL(/depth=/);
  await expect(page.getByTestId("book-level")).toHaveCount(20);
  await expect(page.getByTestId("book-checksum")).toHaveAttribute("data-mismatches", "0");
});

test("at 375 px the book and tape stack under the chart without sideways scroll", async ({ dashboard, page }) => {
  await page.setViewportSize({ width: 375, height: 740 });
  await dashboard.open("/?symbol=MSFT");
  const box = async (id: string) => (await page.getByTestId(id).boundingBox())!;
  const chart = await box("price-chart");
  const book = await box("order-book");
  const tape = await box("trades-tape");
  expect(book.y, "the book under the chart").toBeGreaterThan(chart.y + chart.height);
  expect(tape.y, "the tape under the book").toBeGreaterThanOrEqual(book.y + book.height);
  const widths = await page.evaluate(() => ({ page: document.documentElement.scrollWidth, screen: window.innerWidth }));
  expect(widths.page).toBeLessThanOrEqual(widths.screen);
});
