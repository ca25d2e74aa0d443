import { test, expect, allowConsoleErrors } from "./fixtures";
import { OwnServer } from "./server";

test("after a server restart the badge goes Reconnecting then Live and prices move again", async ({ dashboard }) => {
  // While the server is down the browser logs the refused connections: expected here.
  allowConsoleErrors(/ERR_CONNECTION_REFUSED|Failed to load resource|ERR_EMPTY_RESPONSE|ERR_INCOMPLETE_CHUNKED_ENCODING/);
  const server = await OwnServer.start({ TICK_RATE_HZ: "20" });
  try {
    await dashboard.open(server.url);
    await dashboard.expectPricesToMove();

    await server.stop();
    await expect(dashboard.status).toHaveText("Reconnecting");

    await server.launch();
    await expect(dashboard.status).toHaveText("Live", { timeout: 20_000 });
    await dashboard.expectPricesToMove();
  } finally {
    await server.stop();
  }
});
