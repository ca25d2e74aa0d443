import { test as base, expect, type Locator, type Page } from "@playwright/test";

/** The dashboard, seen through its stable test hooks. */
export class Dashboard {
  readonly status: Locator;
  readonly rows: Locator;

  constructor(readonly page: Page) {
    this.status = page.getByTestId("connection-status");
    this.rows = page.getByTestId("quote-row");
  }

  async open(path = "/") {
    await this.page.goto(path);
  }

  row(symbol: string): Locator {
    return this.page.locator(`[data-testid="quote-row"][data-symbol="${symbol}"]`);
  }

  lastPrices(): Promise<string[]> {
    return this.page.getByTestId("quote-last").allTextContents();
  }
}

type Fixtures = { dashboard: Dashboard; consoleErrors: string[] };

/**
 * Every spec gets a `dashboard` page object, and fails if the page logged a console error or
 * threw (hydration mismatches surface as either).
 */
export const test = base.extend<Fixtures>({
  consoleErrors: [
    async ({ page }, use) => {
      const errors: string[] = [];
      page.on("console", (msg) => {
        if (msg.type() === "error") errors.push(msg.text());
      });
      page.on("pageerror", (err) => errors.push(String(err)));
      await use(errors);
      expect(errors, "console errors and page errors").toEqual([]);
    },
    { auto: true },
  ],
  dashboard: async ({ page }, use) => {
    await use(new Dashboard(page));
  },
});

export { expect };
