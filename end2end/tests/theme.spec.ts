import { test, expect } from "./fixtures";

test("the theme follows the system, toggles, and is remembered", async ({ dashboard, page }) => {
  await page.emulateMedia({ colorScheme: "light" });
  await dashboard.open();
  await expect(dashboard.theme).toHaveAttribute("aria-pressed", "false");
  const lightBg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);

  await dashboard.theme.click();
  await expect(page.locator("html")).toHaveAttribute("data-theme", "dark");
  await expect(dashboard.theme).toHaveAttribute("aria-pressed", "true");
  const darkBg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  expect(darkBg).not.toEqual(lightBg);

  await dashboard.open();
  await expect(page.locator("html")).toHaveAttribute("data-theme", "dark");
  await expect(dashboard.theme).toHaveAttribute("aria-pressed", "true");
  expect(await page.evaluate(() => getComputedStyle(document.body).backgroundColor)).toEqual(darkBg);
});
