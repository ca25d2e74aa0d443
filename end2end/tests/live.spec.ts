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
