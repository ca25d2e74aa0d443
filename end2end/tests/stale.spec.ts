import { test, expect } from "./fixtures";
import { OwnServer } from "./server";

test("the badge shows Stale when the stream goes silent, and Live when it resumes", async ({ dashboard, page }) => {
  // Keep-alive every second: silence for two seconds means stale.
  const server = await OwnServer.start({ TICK_RATE_HZ: "5", SSE_KEEPALIVE_SECS: "1" });
  try {
    await dashboard.open(server.url);
    server.freeze(); // SIGSTOP: the connection stays open but nothing arrives
    await expect(dashboard.status).toHaveText("Stale");
    server.thaw();
    await expect(dashboard.status).toHaveText("Live");
    await dashboard.expectPricesToMove();
  } finally {
    server.thaw();
    await server.stop(page);
  }
});
