import { test, expect } from "./fixtures";
import type { Page } from "@playwright/test";
import { PASSWORD, closeOtherBrowsers, fresh, otherBrowser, signIn, signUp } from "./people";

test.afterEach(closeOtherBrowsers);

/** Fills the Alerts panel's form and submits it. */
async function addAlert(page: Page, symbol: string, condition: string, price: string, note = "") {
  const form = page.getByTestId("alert-form");
  await form.locator('select[name="symbol"]').selectOption(symbol);
  await form.locator('select[name="condition"]').selectOption(condition);
  await form.locator('input[name="price"]').fill(price);
  await form.locator('select[name="frequency"]').selectOption("once");
  await form.locator('input[name="note"]').fill(note);
  await form.getByRole("button", { name: "Add alert" }).click();
}

test("an alert set on the page fires once: a toast, the bell and the inbox on every device of its owner, read everywhere at once", async ({
  browser,
  dashboard,
  page,
}) => {
  const ada = fresh("ada");
  await dashboard.open("/");
  await expect(page.getByTestId("alerts-panel")).toHaveCount(0);
  await expect(page.getByTestId("notification-bell")).toHaveCount(0);
  await signUp(page, ada);
  await expect(dashboard.status).toHaveText("Live");
  const other = await otherBrowser(browser, ada);
  const stranger = await otherBrowser(browser, fresh("bob"), true);
  // This browser asked for a sound (the choice is its own: the other device stays silent).
  await page.getByTestId("notification-bell").click();
  await page.getByTestId("notification-sound").check();
  await page.getByTestId("notification-bell").click();
  const sounds = (p: Page) => p.evaluate(() => (window as any).__tickertapeSounds ?? 0);
  expect(await sounds(page)).toBe(1); // the sample played on turning it on

  // Any trade of AAPL is above its lowest tick: the alert fires at the next one.
  await addAlert(page, "AAPL", "greater_than", "0.01", "e2e");
  const row = page.getByTestId("alert-row");
  await expect(row).toHaveCount(1);
  await expect(row).toHaveAttribute("data-state", "triggered");
  await expect(row).toContainText("fired 1×");

  for (const p of [page, other]) {
    const toast = p.getByTestId("notification-toast");
    await expect(toast).toHaveCount(1);
    await expect(toast).toContainText("AAPL above");
    await expect(toast).toContainText("e2e");
    await expect(p.getByTestId("notification-count")).toHaveText("1");
  }
  await expect(stranger.getByTestId("notification-toast")).toHaveCount(0);
  expect(await sounds(page)).toBe(2);
  expect(await sounds(other)).toBe(0);
  await expect(stranger.getByTestId("notification-count")).toHaveText("0");

  // Read on the other device: this one's bell clears within a second, pushed on its stream.
  await other.getByTestId("notification-bell").click();
  const item = other.getByTestId("inbox-item");
  await expect(item).toHaveCount(1);
  await expect(item).toHaveAttribute("data-read", "false");
  await other.getByTestId("inbox-read-all").click();
  await expect(other.getByTestId("notification-count")).toHaveText("0");
  await expect(page.getByTestId("notification-count")).toHaveText("0", { timeout: 1_000 });
  await page.getByTestId("notification-bell").click();
  await expect(page.getByTestId("inbox-item")).toHaveAttribute("data-read", "true");

  // A click on the toast charts its symbol.
  await page.getByTestId("notification-toast").click();
  await expect(dashboard.chartSymbol).toHaveText("AAPL");
  await expect(page.getByTestId("notification-toast")).toHaveCount(0);

  // It fired once: nothing more arrives (the market keeps trading AAPL meanwhile).
  const seq = await dashboard.lastSeq();
  await expect.poll(() => dashboard.lastSeq()).toBeGreaterThan(seq + 20);
  await expect(page.getByTestId("inbox-item")).toHaveCount(1);
});

test("an alert is paused, resumed and deleted from the panel", async ({ dashboard, page }) => {
  await dashboard.open("/");
  await signUp(page, fresh("cy"));
  // Far above the market: it stays active.
  await addAlert(page, "MSFT", "crossing", "99999.00");
  const row = page.getByTestId("alert-row");
  await expect(row).toHaveAttribute("data-state", "active");
  await row.getByTestId("alert-toggle").click();
  await expect(row).toHaveAttribute("data-state", "paused");
  await row.getByTestId("alert-toggle").click();
  await expect(row).toHaveAttribute("data-state", "active");
  // Edited from the panel: the form takes its values, and saves the new level and note.
  await row.getByTestId("alert-edit").click();
  const form = page.getByTestId("alert-form");
  await expect(form.locator('input[name="price"]')).toHaveValue("99999.00");
  await form.locator('input[name="price"]').fill("88888.00");
  await form.locator('input[name="note"]').fill("lower");
  await form.getByRole("button", { name: "Save alert" }).click();
  await expect(row).toContainText("88888.00");
  await expect(row).toContainText("lower");
  await expect(form.getByRole("button", { name: "Add alert" })).toBeVisible();
  await row.getByTestId("alert-delete").click();
  await expect(row).toHaveCount(0);
  // A level off the instrument's grid is refused on the page, with the reason.
  await addAlert(page, "MSFT", "crossing", "1.234");
  await expect(page.getByTestId("alert-error")).toContainText("tick grid");
  await expect(row).toHaveCount(0);
});

test("what fired while no page was open is in the inbox on return", async ({ browser, dashboard, page }) => {
  const dee = fresh("dee");
  // Set through the API from a context that then closes: no page of Dee's is open when it fires.
  const context = await browser.newContext();
  const api = context.request;
  expect((await api.post("/api/signup", { data: { username: dee, password: PASSWORD } })).ok()).toBe(true);
  const made = await api.post("/api/alerts", {
    data: { symbol: "AAPL", condition: "greater_than", price: 1, frequency: "once", note: "while away" },
  });
  expect(made.status()).toBe(201);
  await expect
    .poll(async () => (await (await api.get("/api/notifications")).json()).length, { message: "it fires" })
    .toBe(1);
  await context.close();

  await dashboard.open("/");
  await signIn(page, dee);
  await expect(page.getByTestId("notification-count")).toHaveText("1");
  await page.getByTestId("notification-bell").click();
  await expect(page.getByTestId("inbox-item")).toContainText("while away");
  // Nothing toasts for what is old news.
  await expect(page.getByTestId("notification-toast")).toHaveCount(0);
});

test("alerts show as lines on the chart: one is dragged to a new level, another added at the crosshair", async ({
  dashboard,
  page,
}) => {
  await dashboard.open("/");
  await signUp(page, fresh("eve"));
  const symbol = (await dashboard.chartSymbol.textContent())!.trim();
  // At the price now (the form's starting level), paused at once so that it cannot fire.
  const form = page.getByTestId("alert-form");
  await expect(form.locator('select[name="symbol"]')).toHaveValue(symbol);
  await form.locator('select[name="condition"]').selectOption("crossing");
  await form.locator('select[name="frequency"]').selectOption("every_time");
  await form.getByRole("button", { name: "Add alert" }).click();
  const row = page.getByTestId("alert-row");
  await row.getByTestId("alert-toggle").click();
  await expect(row).toHaveAttribute("data-state", "paused");

  const line = page.getByTestId("alert-line");
  await expect(line).toHaveCount(1);
  const before = Number(await line.getAttribute("data-price"));
  // The panel's buttons scrolled the page: the chart comes back into view first. Paused, so that
  // the chart's price range (and the line with it) holds still between finding the line and
  // pressing on it.
  await dashboard.pause.click();
  await expect(dashboard.status).toHaveText("Paused");
  await line.scrollIntoViewIfNeeded();
  const box = (await line.boundingBox())!;
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2 - 40, { steps: 5 });
  await page.mouse.up();
  // Up the chart is a higher price; the server has it too.
  await expect.poll(async () => Number(await line.getAttribute("data-price"))).toBeGreaterThan(before);
  const moved = Number(await line.getAttribute("data-price"));
  await expect
    .poll(async () => (await (await page.request.get("/api/alerts")).json())[0].price)
    .toBe(moved);

  // The crosshair offers a new alert at its price.
  const plot = dashboard.chart.locator(".plot");
  await plot.scrollIntoViewIfNeeded();
  const area = (await plot.boundingBox())!;
  await page.mouse.move(area.x + area.width / 3, area.y + area.height / 2);
  await page.getByTestId("chart-add-alert").click();
  await expect(row).toHaveCount(2);
  await expect(line).toHaveCount(2);
});
