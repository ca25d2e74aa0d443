import { test, expect } from "./fixtures";

test("the Transports view runs all three side by side and measures them", async ({ page }) => {
  await page.goto("/?symbols=AAPL,MSFT,BTC-USD&view=transports");
  const panels = page.getByTestId("transport-panel");
  await expect(panels).toHaveCount(3);
  for (const transport of ["sse", "ws", "poll"]) {
    const panel = page.locator(`[data-testid="transport-panel"][data-transport="${transport}"]`);
    await expect(panel.getByTestId("connection-status")).toHaveText("Live");
    await expect(panel.getByTestId("events-per-second")).toHaveText(/^[1-9]\d*$/);
    await expect(panel.getByTestId("latency-p50")).toHaveText(/^\d+ ms$/);
    await expect(panel.getByTestId("latency-p99")).toHaveText(/^\d+ ms$/);
    await expect(panel.getByTestId("bytes-per-event")).toHaveText(/^\d+$/);
    await expect(panel.getByTestId("wire-bytes-per-event")).toHaveText(/^\d+$/);
    await expect(panel.getByTestId("connections")).toHaveText(/^[1-9]\d*$/);
  }
  // Long polling opens a request per batch; the streaming transports keep one connection.
  const requests = page.locator('[data-transport="poll"]').getByTestId("connections");
  await expect.poll(async () => Number(await requests.textContent())).toBeGreaterThan(5);
  await expect(page.locator('[data-transport="sse"]').getByTestId("connections")).toHaveText("1");
  await expect(page.locator('[data-transport="ws"]').getByTestId("connections")).toHaveText("1");

  // The server's count of bytes on the wire covers more than the events' text: for long
  // polling, every request's and answer's head.
  const figure = async (transport: string, testid: string) =>
    Number(await page.locator(`[data-transport="${transport}"]`).getByTestId(testid).textContent());
  for (const transport of ["sse", "ws"]) {
    await expect
      .poll(async () => (await figure(transport, "wire-bytes-per-event")) - (await figure(transport, "bytes-per-event")))
      .toBeGreaterThanOrEqual(0);
  }
  await expect
    .poll(async () => (await figure("poll", "wire-bytes-per-event")) - (await figure("poll", "bytes-per-event")))
    .toBeGreaterThan(200);
});
