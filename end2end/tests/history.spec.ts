import { test, expect } from "./fixtures";
import type { Page } from "@playwright/test";

/** The chart's visible range, as `data-testid="chart-range"` states it. */
async function range(page: Page) {
  const r = page.getByTestId("chart-range");
  return {
    from: Number(await r.getAttribute("data-from")),
    to: Number(await r.getAttribute("data-to")),
    live: (await r.getAttribute("data-live")) === "true",
  };
}

/** Start times of the candles drawn, in document order. */
async function candleTimes(page: Page): Promise<number[]> {
  return page.getByTestId("candle").evaluateAll((els) => els.map((e) => Number(e.getAttribute("data-t"))));
}

test("a fresh server's chart opens full: the market's past, one-minute candles back to back", async ({ dashboard, page }) => {
  await dashboard.open("/?symbol=MSFT&interval=1m");
  await expect.poll(async () => (await candleTimes(page)).length).toBeGreaterThanOrEqual(60);
  const times = await candleTimes(page);
  for (let i = 1; i < times.length; i++) expect(times[i] - times[i - 1]).toBe(60_000);
  // A volume bar under every candle that traded, the tallest filling the bottom fifth of the plot
  // (thousandths of its height from the top, as the last draw put it there).
  // Read together: the table trails the canvas by up to a tenth of a second.
  const canvas = page.getByTestId("chart-canvas");
  await expect
    .poll(() =>
      page.evaluate(() => {
        const rows = [...document.querySelectorAll('[data-testid="candle"]')];
        const bars = Number(document.querySelector('[data-testid="chart-canvas"]')!.getAttribute("data-volume-bars"));
        return bars > 0 && bars === rows.filter((e) => Number(e.getAttribute("data-v")) > 0).length;
      }),
    )
    .toBe(true);
  const top = Number(await canvas.getAttribute("data-volume-top"));
  expect(top).toBeGreaterThanOrEqual(800);
  expect(top).toBeLessThan(850);
  // Coarser intervals have a past too.
  await dashboard.interval.selectOption("15m");
  await expect.poll(async () => (await candleTimes(page)).length).toBeGreaterThanOrEqual(30);
  await dashboard.interval.selectOption("1h");
  await expect.poll(async () => (await candleTimes(page)).length).toBeGreaterThanOrEqual(8);
});

test("zoom and pan move through the history, live updates keep the place, back to live returns", async ({ dashboard, page }) => {
  await dashboard.open("/?symbol=AAPL&interval=1s");
  const back = page.getByTestId("chart-live");
  const plot = dashboard.chart.locator(".plot");
  await expect(back).toBeHidden();
  const start = await range(page);
  expect(start.live).toBe(true);

  // Zoomed in (button) then further out (wheel): the span changes, the right edge stays live.
  await page.getByTestId("zoom-in").click();
  await expect.poll(async () => (await range(page)).to - (await range(page)).from).toBeLessThan(start.to - start.from);
  await plot.hover();
  await page.mouse.wheel(0, 300);
  await page.mouse.wheel(0, 300);
  await expect.poll(async () => (await range(page)).to - (await range(page)).from).toBeGreaterThan(start.to - start.from);
  expect((await range(page)).live).toBe(true);

  // A pinch (two pointers moving apart) zooms in.
  const beforePinch = await range(page);
  await plot.evaluate((el) => {
    const r = el.getBoundingClientRect();
    const at = (type: string, id: number, fx: number) =>
      el.dispatchEvent(new PointerEvent(type, { pointerId: id, pointerType: "touch", isPrimary: id === 1, bubbles: true, clientX: r.left + r.width * fx, clientY: r.top + r.height / 2 }));
    at("pointerdown", 1, 0.45);
    at("pointerdown", 2, 0.55);
    at("pointermove", 2, 0.75);
    at("pointerup", 2, 0.75);
    at("pointerup", 1, 0.45);
  });
  await expect.poll(async () => (await range(page)).to - (await range(page)).from).toBeLessThan(beforePinch.to - beforePinch.from);

  // While zoomed and live, the chart follows the market: its right edge moves on.
  const liveEdge = (await range(page)).to;
  await expect.poll(async () => (await range(page)).to, { timeout: 15_000 }).toBeGreaterThan(liveEdge);

  // Panned back with the keyboard: older candles, and the way back to live is offered.
  await plot.focus();
  await page.keyboard.press("ArrowLeft");
  await page.keyboard.press("ArrowLeft");
  await expect(back).toBeVisible();
  const panned = await range(page);
  expect(panned.live).toBe(false);
  expect(panned.to).toBeLessThan(liveEdge);

  // Dragged right: further into the past.
  const box = (await plot.boundingBox())!;
  await page.mouse.move(box.x + box.width * 0.3, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.7, box.y + box.height / 2, { steps: 5 });
  await page.mouse.up();
  await expect.poll(async () => (await range(page)).to).toBeLessThan(panned.to);
  const dragged = await range(page);

  // New ticks arrive (the page's last event moves on) and the panned chart stays where it is,
  // the crosshair still reading candles there.
  const seq = await dashboard.lastSeq();
  await expect.poll(() => dashboard.lastSeq(), { timeout: 15_000 }).toBeGreaterThan(seq + 40);
  expect(await range(page)).toEqual(dragged);
  await page.mouse.move(box.x + box.width * 0.5, box.y + box.height / 2);
  await expect(page.getByTestId("chart-tooltip")).toContainText("UTC");

  // Back to live.
  await back.click();
  await expect(back).toBeHidden();
  const again = await range(page);
  expect(again.live).toBe(true);
  expect(again.to).toBeGreaterThan(dragged.to);
});
