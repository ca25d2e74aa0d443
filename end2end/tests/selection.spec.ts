import { test, expect } from "./fixtures";

test("selecting a row drives the main chart, by mouse and by keyboard", async ({ dashboard, page }) => {
  await dashboard.open();
  await dashboard.row("MSFT").click();
  await expect(dashboard.chartSymbol).toHaveText("MSFT");
  await expect(dashboard.row("MSFT")).toHaveAttribute("aria-selected", "true");
  await expect(page).toHaveURL(/symbol=MSFT/);
  await expect.poll(async () => Number(await dashboard.chart.getAttribute("data-candles"))).toBeGreaterThan(0);

  await dashboard.row("NVDA").focus();
  await page.keyboard.press("Enter");
  await expect(dashboard.chartSymbol).toHaveText("NVDA");
  await expect(dashboard.row("MSFT")).toHaveAttribute("aria-selected", "false");
});
