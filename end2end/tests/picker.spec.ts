import { test, expect } from "./fixtures";

test("the symbol picker changes the watchlist and re-subscribes the stream", async ({ dashboard, page }) => {
  await dashboard.open("/?symbols=AAPL,MSFT,TSLA");
  await expect(dashboard.rows).toHaveCount(3);

  await dashboard.picker.locator("summary").click();
  const resubscribed = page.waitForRequest((r) => r.url().includes("/api/stream?symbols=AAPL,TSLA,ETH-USD"));
  await dashboard.picker.getByRole("checkbox", { name: /MSFT/ }).uncheck();
  await dashboard.picker.getByRole("checkbox", { name: /ETH-USD/ }).check();
  await resubscribed;

  await expect(page).toHaveURL(/symbols=AAPL,TSLA,ETH-USD/);
  await expect(dashboard.rows).toHaveCount(3);
  await expect(dashboard.row("MSFT")).toHaveCount(0);
  await expect(dashboard.row("ETH-USD")).toBeVisible();
  await expect(dashboard.status).toHaveText("Live");
  await dashboard.expectPricesToMove();
});
