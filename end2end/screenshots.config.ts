import { defineConfig } from "@playwright/test";
import base from "./playwright.config";

// `make screenshots`: renders the README's screenshots with the suite's server and browser.
export default defineConfig({ ...base, testDir: "./screenshots", testMatch: "*.shot.ts" });
