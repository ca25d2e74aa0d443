// Users for the specs: fresh names, signing up through the page, and other browsers (their own
// cookies) signed in through the API.
import { expect } from "./fixtures";
import type { Browser, BrowserContext, Page } from "@playwright/test";

/** The other browsers a test opened: closed after it (`closeOtherBrowsers`), or their pages
 * would stream on beside every later spec, starving the machine (the page-cost spec measured
 * 10.7 ms a frame with four such pages left open, 2.6 ms without). */
const opened: BrowserContext[] = [];

export async function closeOtherBrowsers() {
  while (opened.length > 0) await opened.pop()!.close();
}

export const PASSWORD = "correct horse battery";

/** A username no earlier run has taken. */
export function fresh(prefix: string): string {
  return `${prefix}${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
}

/** Signs up through the header's form and waits until the page says who is signed in. */
export async function signUp(page: Page, name: string) {
  await page.getByTestId("signin-open").click();
  const form = page.getByTestId("signin-form");
  await form.getByLabel("Username").fill(name);
  await form.getByLabel("Password").fill(PASSWORD);
  await form.getByTestId("signup").click();
  await expect(page.getByTestId("account-name")).toHaveText(name);
}

/** A second browser (its own cookies) signed in as `name` through the API, on the dashboard. */
export async function otherBrowser(browser: Browser, name: string, create = false): Promise<Page> {
  const context = await browser.newContext();
  opened.push(context);
  const page = await context.newPage();
  const resp = await page.request.post(create ? "/api/signup" : "/api/login", {
    data: { username: name, password: PASSWORD },
  });
  expect(resp.ok()).toBe(true);
  await page.goto("/");
  await expect(page.getByTestId("connection-status")).toHaveText("Live");
  return page;
}


/** Signs in through the header's form as `name`, who has an account already. */
export async function signIn(page: Page, name: string) {
  await page.getByTestId("signin-open").click();
  const form = page.getByTestId("signin-form");
  await form.getByLabel("Username").fill(name);
  await form.getByLabel("Password").fill(PASSWORD);
  await form.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByTestId("account-name")).toHaveText(name);
}
