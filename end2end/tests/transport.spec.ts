import { test, expect, allowConsoleErrorsWhile, SERVER_AWAY } from "./fixtures";
import { OwnServer } from "./server";

for (const transport of ["sse", "ws", "poll"]) {
  test(`over ${transport}: goes Live, updates, and survives a server restart`, async ({ dashboard }) => {
    const server = await OwnServer.start({ TICK_RATE_HZ: "20" });
    try {
      await dashboard.open(`${server.url}/?transport=${transport}`);
      await expect(dashboard.page.getByTestId("transport")).toHaveValue(transport);
      await dashboard.expectPricesToMove();

      // Only while the server is away may the page log refused connections.
      await allowConsoleErrorsWhile(SERVER_AWAY, async () => {
        await server.stop();
        await expect(dashboard.status).toHaveText("Reconnecting");
        await server.launch();
        await expect(dashboard.status).toHaveText("Live", { timeout: 20_000 });
      });
      await dashboard.expectPricesToMove();
    } finally {
      await server.stop(dashboard.page);
    }
  });
}

test("switching transport keeps the page live and lands in the URL", async ({ dashboard, page }) => {
  await dashboard.open("/");
  for (const transport of ["ws", "poll", "sse"]) {
    await page.getByTestId("transport").selectOption(transport);
    if (transport === "sse") await expect(page).not.toHaveURL(/transport=/);
    else await expect(page).toHaveURL(new RegExp(`transport=${transport}`));
    await expect(dashboard.status).toHaveText("Live");
    await dashboard.expectPricesToMove();
  }
});
