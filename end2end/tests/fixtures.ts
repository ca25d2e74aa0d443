import { test as base, expect, type Locator, type Page } from "@playwright/test";

/** The dashboard, seen through its stable test hooks. */
export class Dashboard {
  readonly status: Locator;
  readonly rows: Locator;
  readonly chart: Locator;
  readonly chartSymbol: Locator;
  readonly mode: Locator;
  readonly interval: Locator;
  readonly picker: Locator;
  readonly pause: Locator;
  readonly theme: Locator;

  constructor(readonly page: Page) {
    this.status = page.getByTestId("connection-status");
    this.rows = page.getByTestId("quote-row");
    this.chart = page.getByTestId("price-chart");
    this.chartSymbol = page.getByTestId("chart-symbol");
    this.mode = page.getByTestId("chart-mode");
    this.interval = page.getByTestId("chart-interval");
    this.picker = page.getByTestId("symbol-picker");
    this.pause = page.getByTestId("pause-toggle");
    this.theme = page.getByTestId("theme-toggle");
  }

  /** Opens the page and waits until it is hydrated and streaming. */
  async open(path = "/") {
    await this.page.goto(path);
    await expect(this.status).toHaveText("Live");
  }

  row(symbol: string): Locator {
    return this.page.locator(`[data-testid="quote-row"][data-symbol="${symbol}"]`);
  }

  lastPrices(): Promise<string[]> {
    return this.page.getByTestId("quote-last").allTextContents();
  }

  /** Sequence number of the last event the page received (it updates while paused too). */
  async lastSeq(): Promise<number> {
    const id = (await this.status.getAttribute("data-last-event")) ?? "";
    return Number(id.split("-")[1] ?? 0);
  }

  /** Resolves once some displayed price differs from `before`. */
  async expectPricesToMove(before?: string[]) {
    const start = before ?? (await this.lastPrices());
    await expect
      .poll(async () => (await this.lastPrices()).some((p, i) => p !== start[i]), { message: "a displayed price moves" })
      .toBe(true);
  }
}

type Fixtures = { dashboard: Dashboard; consoleErrors: string[] };

/**
 * Every spec gets a `dashboard` page object, and fails if the page logged a console error or
 * threw (hydration mismatches surface as either). Specs that stop the server on purpose pass
 * their expected network errors through `consoleErrors.allow`.
 */
export const test = base.extend<Fixtures>({
  consoleErrors: [
    async ({ page }, use) => {
      const errors: string[] = [];
      page.on("console", (msg) => {
        // Errors, and any warning about hydration (Leptos reports mismatches there).
        if (msg.type() === "error" || (msg.type() === "warning" && /hydrat/i.test(msg.text()))) errors.push(msg.text());
      });
      page.on("pageerror", (err) => errors.push(String(err)));
      await use(errors);
      const unexpected = errors.filter((e) => !allowed.some((re) => re.test(e)));
      allowed.length = 0;
      expect(unexpected, "console errors and page errors").toEqual([]);
    },
    { auto: true },
  ],
  dashboard: async ({ page }, use) => {
    await use(new Dashboard(page));
  },
});

const allowed: RegExp[] = [];
/** Lets this spec's expected console errors through (e.g. connection refused while a server restarts). */
export function allowConsoleErrors(...patterns: RegExp[]) {
  allowed.push(...patterns);
}

export { expect };
