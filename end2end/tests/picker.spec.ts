import { test, expect } from "./fixtures";

test("the symbol picker changes the watchlist and re-subscribes the stream", async ({ dashboard, page }) => {
  await dashboard.open("/?symbols=AAPL,MSFT,TSLA");
  await expect(dashboard.rows).toHaveCount(3);

  await dashboard.picker.locator("summary").click();
  // The stream selects what the browser's tabs show (here one tab's), their symbols sorted.
  const resubscribed = page.waitForRequest((r) => {
    const url = new URL(r.url());
    const symbols = (url.searchParams.get("symbols") ?? "").split(",").sort().join();
    return url.pathname === "/api/stream" && symbols === "AAPL,ETH-USD,TSLA";
  });
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
