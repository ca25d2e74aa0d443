import { test, expect } from "./fixtures";

test("the first HTML response already contains prices, sparklines and the chart", async ({ request }) => {
  const snapshot = await (await request.get("/api/snapshot")).json();
  const res = await request.get("/");
  expect(res.status()).toBe(200);
  const html = await res.text();
  expect(html).toContain('data-testid="connection-status"');
  for (const quote of snapshot.quotes) {
    expect(html).toContain(`data-symbol="${quote.symbol}"`);
  }
  // Every row's last price is rendered on the server, not filled in by the browser.
  const prices = [...html.matchAll(/data-testid="quote-last"[^>]*>([^<]+)</g)].map((m) => m[1]);
  expect(prices).toHaveLength(snapshot.quotes.length);
  for (const p of prices) expect(p).toMatch(/^\d+\.\d+$/);
  expect(html.match(/data-testid="sparkline"/g)).toHaveLength(snapshot.quotes.length);
  expect(html).toMatch(/data-testid="price-chart"[^>]*data-candles="[1-9]/);
});

test("the server renders the view the URL asks for", async ({ request }) => {
  const html = await (await request.get("/?symbols=MSFT,ETH-USD&symbol=ETH-USD&mode=line")).text();
  expect(html.match(/data-testid="quote-row"/g)).toHaveLength(2);
  expect(html).toMatch(/data-testid="chart-symbol"[^>]*>ETH-USD</);
  expect(html).toMatch(/data-testid="price-chart"[^>]*data-mode="line"/);
});
