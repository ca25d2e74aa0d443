import { defineConfig } from "@playwright/test";
import os from "node:os";
import path from "node:path";

// The suite starts its own server (the release binary that `cargo leptos build --release`
// produced) on its own port, with a fixed seed, so runs are reproducible and never collide with
// a dashboard you have open on :3000.
const port = Number(process.env.E2E_PORT ?? 3100);
const baseURL = `http://127.0.0.1:${port}`;

export default defineConfig({
  testDir: "./tests",
  fullyParallel: false,
  workers: 1,
  retries: 0,
  timeout: 30_000,
  expect: { timeout: 10_000 },
  forbidOnly: !!process.env.CI,
  reporter: [["list"]],
  outputDir: "test-results",
  use: {
    baseURL,
    browserName: "chromium",
    trace: "retain-on-failure",
    launchOptions: {
      // Debian's Chromium: Playwright's own browser download is not possible here.
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
  },
  webServer: {
    command: "./target/release/tickertape",
    cwd: "..",
    url: `${baseURL}/healthz`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: "pipe",
    stderr: "pipe",
    env: {
      LEPTOS_SITE_ADDR: `127.0.0.1:${port}`,
      LEPTOS_SITE_ROOT: "target/site",
      TICK_RATE_HZ: "20",
      MARKET_SEED: "42",
      RUST_LOG: "warn",
      // Accounts made by the suite go to a database of its own, never the dashboard's.
      DATABASE_URL: `sqlite://${path.join(os.tmpdir(), `tickertape-e2e-${process.pid}.db`)}`,
    },
  },
});
