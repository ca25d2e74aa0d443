import { test, expect } from "./fixtures";
import type { Page } from "@playwright/test";
import { closeOtherBrowsers, fresh, otherBrowser, signUp } from "./people";

test.afterEach(closeOtherBrowsers);

async function toggle(page: Page, symbol: string) {
  const picker = page.getByTestId("symbol-picker");
  if (!(await picker.evaluate((d) => (d as HTMLDetailsElement).open))) await picker.locator("summary").click();
  await picker.locator(`input[value="${symbol}"]`).click();
  await picker.locator("summary").click();
}

const symbols = (page: Page) =>
  page.getByTestId("quote-row").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-symbol")));

test("a watchlist edited in one browser shows in another of the same user within a second, never in a third user's", async ({
  browser,
  dashboard,
  page,
}) => {
  const ada = fresh("ada");
  await dashboard.open("/");
  await signUp(page, ada);
  await expect(dashboard.status).toHaveText("Live");

  // The picker edits the account's first list (made on first use).
  await toggle(page, "AAPL");
  await expect(page.getByTestId("watchlist-tab")).toHaveCount(1);
  await expect(page.getByTestId("watchlist-tab")).toHaveAttribute("aria-selected", "true");
  await expect(dashboard.row("AAPL")).toHaveCount(0);

  // Ada on another device: the first HTML already shows her list (no flash of the default).
  const second = await otherBrowser(browser, ada);
  const firstHtml = await (await second.request.get("/")).text();
  expect(firstHtml).not.toContain('data-symbol="AAPL"');
  expect(firstHtml).toContain('data-testid="watchlist-tab"');
  await expect(second.getByTestId("account-name")).toHaveText(ada);

  // Someone else.
  const third = await otherBrowser(browser, fresh("bob"), true);
  const theirs = await symbols(third);

  // A change in the first browser reaches the second within a second, pushed on its stream.
  await toggle(page, "MSFT");
  await expect(dashboard.row("MSFT")).toHaveCount(0);
  await expect(second.locator('[data-testid="quote-row"][data-symbol="MSFT"]')).toHaveCount(0, { timeout: 1_000 });
  expect(await symbols(second)).toEqual(await symbols(page));
  // Never in the third user's.
  await expect(third.getByTestId("watchlist-tab")).toHaveCount(0);
  expect(await symbols(third)).toEqual(theirs);

  // A reload keeps it.
  await second.reload();
  await expect(second.getByTestId("connection-status")).toHaveText("Live");
  expect(await symbols(second)).toEqual(await symbols(page));

  // Lists are created, renamed, switched and deleted; every tab of the user follows.
  page.once("dialog", (d) => d.accept("Crypto"));
  await page.getByTestId("watchlist-new").click();
  await expect(page.getByTestId("watchlist-tab")).toHaveCount(2);
  await expect(second.getByTestId("watchlist-tab")).toHaveCount(2, { timeout: 1_000 });
  await expect(page.locator('[data-testid="watchlist-tab"][data-name="Crypto"]')).toHaveAttribute("aria-selected", "true");
  page.once("dialog", (d) => d.accept("Coins"));
  await page.getByTestId("watchlist-rename").click();
  await expect(second.locator('[data-testid="watchlist-tab"][data-name="Coins"]')).toHaveCount(1, { timeout: 1_000 });
  await toggle(page, "TSLA");
  await page.locator('[data-testid="watchlist-tab"]').first().click();
  await expect(page.locator('[data-testid="watchlist-tab"]').first()).toHaveAttribute("aria-selected", "true");
  await expect(dashboard.row("TSLA")).toHaveCount(1);
  await page.locator('[data-testid="watchlist-tab"][data-name="Coins"]').click();
  await expect(dashboard.row("TSLA")).toHaveCount(0);
  await page.getByTestId("watchlist-delete").click();
  await expect(page.getByTestId("watchlist-tab")).toHaveCount(1);
  await expect(second.getByTestId("watchlist-tab")).toHaveCount(1, { timeout: 1_000 });

  // Signing out: the page carries on, anonymously.
  await page.getByTestId("signout").click();
  await expect(page.getByTestId("signin-open")).toBeVisible();
  await expect(page.getByTestId("watchlist-tab")).toHaveCount(0);
  await expect(dashboard.status).toHaveText("Live");
  await dashboard.expectPricesToMove();
  await second.context().close();
  await third.context().close();
});

test("at 375 px a signed-in page with its lists does not scroll sideways", async ({ dashboard, page }) => {
  await page.setViewportSize({ width: 375, height: 740 });
  await dashboard.open("/");
  await signUp(page, fresh("narrow"));
  await toggle(page, "AAPL");
  page.once("dialog", (d) => d.accept("A list with a long name"));
  await page.getByTestId("watchlist-new").click();
  await expect(page.getByTestId("watchlist-tab")).toHaveCount(2);
  const widths = await page.evaluate(() => ({ page: document.documentElement.scrollWidth, screen: window.innerWidth }));
  expect(widths.page).toBeLessThanOrEqual(widths.screen);
});
