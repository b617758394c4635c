// Browser tests (test/e2e) with Debian's chromium: never a downloaded browser. `npm test` runs them
// after the node suites; screenshots of every screen go to test-results/screenshots.
import { defineConfig } from "@playwright/test";

export const CHROMIUM = process.env.HUBKEEP_CHROMIUM ?? "/usr/bin/chromium";

export default defineConfig({
  testDir: "test/e2e",
  testMatch: /.*\.spec\.ts$/,
  timeout: 300_000,
  expect: { timeout: 30_000 },
  workers: 1,
  fullyParallel: false,
  forbidOnly: true,
  retries: 0,
  reporter: [["list"]],
  outputDir: "test-results/playwright",
  use: {
    browserName: "chromium",
    launchOptions: {
      executablePath: CHROMIUM,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
    viewport: { width: 1280, height: 900 },
    actionTimeout: 30_000,
    navigationTimeout: 60_000,
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
  },
});
