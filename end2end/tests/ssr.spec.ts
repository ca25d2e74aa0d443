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

/** `units` × 10^-`decimals` as text, by string arithmetic only (no float on the way). */
function exact(units: number, decimals: number): string {
  const digits = Math.abs(units).toString().padStart(decimals + 1, "0");
  const text = decimals === 0 ? digits : `${digits.slice(0, -decimals)}.${digits.slice(-decimals)}`;
  return units < 0 ? `-${text}` : text;
}

test("prices travel as integers and are printed exactly at each instrument's decimals", async ({ request }) => {
  const instruments = await (await request.get("/api/symbols")).json();
  const html = await (await request.get("/")).text();
  const data = JSON.parse(html.match(/<script type="application\/json" id="page-data">([^<]*)<\/script>/)![1]);
  expect(data.snapshot.quotes).toHaveLength(instruments.length);
  for (const [i, quote] of data.snapshot.quotes.entries()) {
    const instrument = instruments[i];
    expect(quote.symbol).toBe(instrument.symbol);
    for (const field of ["price", "bid", "ask", "open", "high", "low"]) {
      expect(Number.isSafeInteger(quote[field]), `${quote.symbol} ${field} is an integer`).toBe(true);
    }
    expect(Number.isSafeInteger(instrument.tick)).toBe(true);
    expect(quote.price % instrument.tick).toBe(0);
    const row = html.match(new RegExp(`data-symbol="${quote.symbol}"[\\s\\S]*?data-testid="quote-last"[^>]*>([^<]+)<`));
    expect(row![1]).toBe(exact(quote.price, instrument.decimals));
  }
});

test("the server renders the view the URL asks for", async ({ request }) => {
  const html = await (await request.get("/?symbols=MSFT,ETH-USD&symbol=ETH-USD&mode=line")).text();
  expect(html.match(/data-testid="quote-row"/g)).toHaveLength(2);
  expect(html).toMatch(/data-testid="chart-symbol"[^>]*>ETH-USD</);
  expect(html).toMatch(/data-testid="price-chart"[^>]*data-mode="line"/);
});
