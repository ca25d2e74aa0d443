import { test, expect } from "./fixtures";

test("after hydration, prices change without a reload", async ({ dashboard, page }) => {
  await dashboard.open();
  await expect(dashboard.rows.first()).toBeVisible();
  const before = await dashboard.lastPrices();
  expect(before.length).toBeGreaterThan(0);
  await page.evaluate(() => ((window as any).__sameDocument = true));

  await expect(dashboard.status).toHaveText("Live");
  await expect.poll(async () => (await dashboard.lastPrices()).some((p, i) => p !== before[i]), {
    message: "some displayed price moves",
  }).toBe(true);

  // Same document: the change came from the stream, not a navigation.
  expect(await page.evaluate(() => (window as any).__sameDocument)).toBe(true);
  expect(await page.evaluate(() => performance.getEntriesByType("navigation").length)).toBe(1);
  await expect(page.getByTestId("latency")).toHaveText(/^\d+ ms$/);
  await expect(page.getByTestId("event-rate")).toHaveText(/^[1-9]\d*\/s$/);
});

test("the page's stream gets a connection of its own, served without hyper's buffers", async ({ dashboard, page }) => {
  // The stream is fetched without credentials, so the browser opens a fresh connection for it
  // instead of reusing one the page's assets left idle, and the server serves it directly
  // (server/src/conn.rs): a close-delimited body, no chunk framing.
  const stream = page.waitForResponse((r) => r.url().includes("/api/stream"));
  await dashboard.open();
  const headers = await (await stream).allHeaders();
  expect(headers["content-type"]).toBe("text/event-stream");
  expect(headers["connection"]).toBe("close");
  expect(headers["transfer-encoding"]).toBeUndefined();
  await expect(dashboard.status).toHaveText("Live");
});

test("a price that just moved is tinted, whatever housekeeping ended meanwhile", async ({ dashboard, page }) => {
  await dashboard.open();
  await expect(dashboard.status).toHaveText("Live");
  // For six seconds, every 37 ms: each row whose price changed in the last 300 ms must show a
  // tint (the tint lasts 450 ms after a row's last move). Housekeeping ends tints every 250 ms
  // and hands them to the next redraw; a row that moved again in that redraw keeps its new one.
  const seen = await page.evaluate(
    () =>
      new Promise<{ tinted: number; untinted: number }>((done) => {
        const cells = [...document.querySelectorAll<HTMLElement>('[data-testid="quote-last"]')];
        const moved = new Map<HTMLElement, number>();
        const observer = new MutationObserver((list) => {
          for (const m of list) {
            const cell = m.target.parentElement;
            if (cell && cells.includes(cell)) moved.set(cell, performance.now());
          }
        });
        observer.observe(document.body, { subtree: true, characterData: true });
        const counts = { tinted: 0, untinted: 0 };
        const every = setInterval(() => {
          const now = performance.now();
          for (const cell of cells) {
            const at = moved.get(cell);
            if (at === undefined || now - at >= 300) continue;
            if (cell.dataset.flash === "up" || cell.dataset.flash === "down") counts.tinted++;
            else counts.untinted++;
          }
        }, 37);
        setTimeout(() => {
          clearInterval(every);
          observer.disconnect();
          done(counts);
        }, 6_000);
      }),
  );
  expect(seen.tinted).toBeGreaterThan(100);
  expect(seen.untinted).toBe(0);
});
