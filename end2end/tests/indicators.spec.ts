import { test, expect } from "./fixtures";
import type { Page } from "@playwright/test";

/** Canvas draws so far, by layer (`window.__tickertapeDraws`, counted by ui/canvas.rs). */
async function draws(page: Page): Promise<Record<string, number>> {
  return page.evaluate(() => ({ chart: 0, live: 0, crosshair: 0, rsi: 0, ...((window as any).__tickertapeDraws ?? {}) }));
}

test("indicators are chosen on the page, kept in the URL, drawn, and RSI gets a pane of its own", async ({ dashboard, page }) => {
  await dashboard.open("/?symbol=AAPL");
  const canvas = dashboard.chart.getByTestId("chart-canvas");
  const legend = page.getByTestId("indicator");
  await expect(canvas).toHaveAttribute("data-studies-drawn", "0");
  await expect(legend).toHaveCount(0);
  await expect(page.getByTestId("rsi-pane")).toHaveCount(0);

  await page.getByTestId("indicators-menu").locator("summary").click();
  await page.getByTestId("ind-sma").check();
  await expect(page).toHaveURL(/[?&]ind=sma20(&|$)/);
  await expect(legend).toHaveText(["SMA 20"]);
  await expect(canvas).toHaveAttribute("data-studies-drawn", "1");

  // A new period replaces the line's.
  await page.getByTestId("ind-sma-period").fill("10");
  await page.getByTestId("ind-sma-period").press("Enter");
  await expect(page).toHaveURL(/[?&]ind=sma10(&|$)/);

  await page.getByTestId("ind-bb").check();
  await page.getByTestId("ind-bb-k").selectOption("25");
  await page.getByTestId("ind-rsi").check();
  await expect(page).toHaveURL(/[?&]ind=sma10,bb20-2\.5,rsi14(&|$)/);
  await expect(legend).toHaveText(["SMA 10", "BB 20 2.5", "RSI 14"]);
  await expect(canvas).toHaveAttribute("data-studies-drawn", "2");
  await expect(page.getByTestId("rsi-pane")).toBeVisible();
  await expect.poll(async () => (await draws(page)).rsi).toBeGreaterThan(0);

  // A copied link opens with them: the server renders the legend and the pane.
  const html = await (await page.request.get(page.url())).text();
  expect(html).toContain('data-kind="bb20-2.5"');
  expect(html).toContain('data-testid="rsi-pane"');
  await page.reload();
  await expect(dashboard.status).toHaveText("Live");
  await expect(legend).toHaveText(["SMA 10", "BB 20 2.5", "RSI 14"]);
  await expect(canvas).toHaveAttribute("data-studies-drawn", "2");

  await page.getByTestId("indicators-menu").locator("summary").click();
  await page.getByTestId("ind-rsi").uncheck();
  await expect(page.getByTestId("rsi-pane")).toHaveCount(0);
  await expect(page).toHaveURL(/[?&]ind=sma10,bb20-2\.5(&|$)/);
});

test("moving the mouse redraws the crosshair layer only, never the candles", async ({ dashboard, page }) => {
  await dashboard.open("/?symbol=MSFT");
  await expect.poll(() => dashboard.chart.getByTestId("candle").count()).toBeGreaterThan(10);
  // Paused: the market draws nothing, so any draw now is the pointer's.
  await dashboard.pause.click();
  await expect(dashboard.status).toHaveText("Paused");
  const plot = dashboard.chart.locator(".plot");
  const box = (await plot.boundingBox())!;
  await page.mouse.move(box.x + 5, box.y + 5);
  const before = await draws(page);
  await page.mouse.move(box.x + box.width - 5, box.y + box.height - 5, { steps: 12 });
  await expect(page.getByTestId("chart-tooltip")).toBeVisible();
  const after = await draws(page);
  expect(after.crosshair - before.crosshair).toBeGreaterThanOrEqual(5);
  expect(after.chart).toBe(before.chart);
  expect(after.live).toBe(before.live);
});

test("nothing per candle is laid out; the canvases are hidden from assistive technology, which gets a summary", async ({
  dashboard,
  page,
}) => {
  await dashboard.open("/?symbol=AAPL");
  await expect.poll(() => dashboard.chart.getByTestId("candle").count()).toBeGreaterThan(10);
  const laidOut = await page.evaluate(() => ({
    candles: [...document.querySelectorAll('[data-testid="candle"]')].filter((e) => e.getClientRects().length > 0).length,
    svg: document.querySelectorAll('[data-testid="price-chart"] svg, [data-testid="depth-chart"] svg, .spark svg').length,
    visibleCanvases: [...document.querySelectorAll("canvas")].filter((c) => c.getAttribute("aria-hidden") !== "true" && c.getAttribute("role") !== "img").length,
  }));
  expect(laidOut).toEqual({ candles: 0, svg: 0, visibleCanvases: 0 });
  await expect(page.getByTestId("chart-summary")).toContainText(/^AAPL, 1s candles from .* UTC; last open \d+\.\d{2}, high \d+\.\d{2}, low \d+\.\d{2}, close \d+\.\d{2}, volume /);
  await expect(dashboard.chart.locator(".plot")).toHaveAttribute("aria-describedby", "chart-summary");
});

test.describe("at a device pixel ratio of 2", () => {
  test.use({ deviceScaleFactor: 2 });
  test("every canvas is backed by two device pixels per CSS pixel", async ({ dashboard, page }) => {
    await dashboard.open("/?symbol=AAPL");
    await expect(dashboard.chart.getByTestId("chart-canvas")).toHaveAttribute("data-candles-drawn", /^[1-9]/);
    const sizes = await page.evaluate(() =>
      [...document.querySelectorAll("canvas")]
        .filter((c) => c.getClientRects().length > 0)
        .map((c) => {
          const r = c.getBoundingClientRect();
          return { ok: c.width === Math.round(r.width * 2) && c.height === Math.round(r.height * 2), w: c.width, css: r.width };
        }),
    );
    expect(sizes.length).toBeGreaterThan(5);
    for (const s of sizes) expect(s, JSON.stringify(s)).toMatchObject({ ok: true });
  });
});
