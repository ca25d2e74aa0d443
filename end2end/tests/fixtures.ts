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
    // `<epoch>-<seq>`, and on a signed-in user's stream `~<n>` after it.
    return Number(id.split("~")[0].split("-")[1] ?? 0);
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
      current = errors;
      await use(errors);
      const unexpected = errors.filter(
        (e, i) => !windows.some((w) => i >= w.from && i < w.to && w.patterns.some((re) => re.test(e))),
      );
      windows.length = 0;
      expect(unexpected, "console errors and page errors").toEqual([]);
    },
    { auto: true },
  ],
  dashboard: async ({ page }, use) => {
    await use(new Dashboard(page));
  },
});

let current: string[] = [];
const windows: { from: number; to: number; patterns: RegExp[] }[] = [];

/**
 * Runs `body` and lets through the console errors it causes that match `patterns` (e.g. a
 * refused connection while a server restarts): the same errors before or after it still fail
 * the spec, and so does any other error during it.
 */
export async function allowConsoleErrorsWhile<T>(patterns: RegExp[], body: () => Promise<T>): Promise<T> {
  const from = current.length;
  try {
    return await body();
  } finally {
    windows.push({ from, to: current.length, patterns });
  }
}

/** What a page logs while its server is away: refused or cut connections, and nothing else. */
export const SERVER_AWAY = [
  /net::ERR_(CONNECTION_REFUSED|CONNECTION_RESET|EMPTY_RESPONSE|INCOMPLETE_CHUNKED_ENCODING)/,
  /WebSocket connection to 'ws:\/\/127\.0\.0\.1:\d+\/api\/ws[^']*' failed/,
];

export { expect };
