import { defineConfig, devices } from "@playwright/test";
import * as path from "path";
import * as os from "os";
import * as fs from "fs";

// The server binary is built once by scripts/test (cargo leptos build --release) and started
// here; each run gets a fresh SQLite database in a temporary folder.
const repoRoot = path.resolve(__dirname, "..");
// One launch recipe for the tests and page-weight.mjs.
function chromium() {
  const { executablePath, args } = JSON.parse(fs.readFileSync(path.join(__dirname, "chromium.json"), "utf8"));
  return { executablePath: process.env.CHROMIUM_PATH ?? executablePath, args };
}
const targetDir = process.env.CARGO_TARGET_DIR ?? path.join(repoRoot, "target");
const serverBin = process.env.SERVER_BIN ?? path.join(targetDir, "release", "server");
// Workers load this file again: they reuse the runner's folder through the environment, so
// tests can run server commands (e.g. `server admin create`) on the same database.
const runDir = process.env.E2E_RUN_DIR ?? fs.mkdtempSync(path.join(os.tmpdir(), "shop-e2e-"));
process.env.E2E_RUN_DIR = runDir;
process.env.E2E_SERVER_BIN = serverBin;
process.env.E2E_DATABASE_URL = `sqlite://${runDir}/shop.db`;
const port = Number(process.env.E2E_PORT ?? 3000);

export const baseURL = `http://127.0.0.1:${port}`;

export default defineConfig({
  testDir: "./tests",
  timeout: 30_000,
  expect: { timeout: 7_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: process.env.CI ? [["list"]] : [["list"]],
  outputDir: "test-results",
  use: {
    baseURL,
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
    launchOptions: chromium(),
  },
  projects: [{ name: "chromium", use: { ...devices["Desktop Chrome"], channel: undefined } }],
  webServer: [
    {
      command: serverBin,
      cwd: repoRoot,
      url: `${baseURL}/readyz`,
      timeout: 120_000,
      reuseExistingServer: false,
      stdout: "pipe",
      stderr: "pipe",
      env: {
        SHOP_ADDR: `127.0.0.1:${port}`,
        DATABASE_URL: process.env.E2E_DATABASE_URL,
        LEPTOS_SITE_ROOT: path.join(repoRoot, "target", "site"),
        RUST_LOG: "warn",
      },
    },
  ],
});
