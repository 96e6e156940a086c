// Page weight and time to interactive on a slow phone: loads the home page, a category and a
// product page in Chromium with the network throttled to slow 4G (1.6 Mbit/s down, 750 kbit/s up,
// 150 ms round trip) and the CPU slowed 4x through the DevTools protocol, and prints per page the
// bytes transferred by kind, time to first byte, first contentful paint, the time until the page
// is hydrated (its add-to-cart button answers a click) and, on the product page, how long a click
// on add-to-cart takes to show in the cart badge. Each page is loaded twice: a first visit (empty
// cache) and a repeat visit (same browser).
//
// Run after `cargo leptos build --release` (scripts/run or scripts/test do it):
//   node end2end/page-weight.mjs            # starts the release server on a free port
//   BASE_URL=http://127.0.0.1:3000 node end2end/page-weight.mjs   # or measures a running shop
import { chromium } from "@playwright/test";
import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const SLOW_4G = { offline: false, latency: 150, downloadThroughput: (1.6e6 / 8) | 0, uploadThroughput: (750e3 / 8) | 0 };
const CPU_SLOWDOWN = 4;

async function freePort() {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function startShop() {
  if (process.env.BASE_URL) return { base: process.env.BASE_URL, stop: () => {} };
  const target = process.env.CARGO_TARGET_DIR || path.join(repoRoot, "target");
  const bin = process.env.SERVER_BIN || path.join(target, "release", "server");
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "page-weight-"));
  const child = spawn(bin, [], {
    cwd: repoRoot,
    stdio: "ignore",
    env: {
      ...process.env,
      SHOP_ADDR: `127.0.0.1:${port}`,
      DATABASE_URL: `sqlite://${dir}/shop.db`,
      LEPTOS_SITE_ROOT: path.join(repoRoot, "target", "site"),
      SEED_DEMO: "true",
      RUST_LOG: "warn",
    },
  });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 600; i++) {
    try {
      if ((await fetch(`${base}/readyz`)).ok) break;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    base,
    stop: () => {
      child.kill("SIGTERM");
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

function kindOf(url, mime) {
  if (url.endsWith(".wasm") || mime.includes("wasm") || mime.includes("javascript")) return "js+wasm";
  if (mime.includes("css")) return "css";
  if (mime.startsWith("image/")) return "images";
  if (mime.includes("html")) return "html";
  return "other";
}

// One page load through a throttled CDP session; returns the figures.
async function measure(page, cdp, url, { addToCart }) {
  const requests = new Map();
  const bytes = { html: 0, css: 0, "js+wasm": 0, images: 0, other: 0 };
  const onResponse = (e) => requests.set(e.requestId, kindOf(e.response.url, e.response.mimeType || ""));
  const onFinished = (e) => {
    const kind = requests.get(e.requestId) || "other";
    bytes[kind] += e.encodedDataLength;
  };
  cdp.on("Network.responseReceived", onResponse);
  cdp.on("Network.loadingFinished", onFinished);
  await page.goto(url, { waitUntil: "commit" });
  await page.waitForSelector("html[data-hydrated=true]", { timeout: 60_000 });
  const timing = await page.evaluate(() => {
    const nav = performance.getEntriesByType("navigation")[0];
    const fcp = performance.getEntriesByName("first-contentful-paint")[0];
    return { ttfb: nav.responseStart, fcp: fcp ? fcp.startTime : NaN, hydrated: window.__hydratedAt ?? NaN, load: nav.loadEventEnd };
  });
  let click = NaN;
  if (addToCart) {
    const badge = page.getByTestId("cart-count").first();
    const before = (await badge.textContent()) ?? "0";
    const started = Date.now();
    await page.getByRole("button", { name: /add to cart/i }).first().click();
    await page.waitForFunction(
      (b) => document.querySelector("[data-testid=cart-count]")?.textContent?.trim() !== b,
      before.trim(),
      { timeout: 30_000 },
    );
    click = Date.now() - started;
  }
  await page.waitForLoadState("load");
  await new Promise((r) => setTimeout(r, 300));
  cdp.off("Network.responseReceived", onResponse);
  cdp.off("Network.loadingFinished", onFinished);
  return { ...timing, bytes, click };
}

const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
const ms = (n) => (Number.isFinite(n) ? `${Math.round(n)} ms` : "-");

const shop = await startShop();
const launch = JSON.parse(fs.readFileSync(new URL("./chromium.json", import.meta.url), "utf8"));
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? launch.executablePath,
  args: launch.args,
});
try {
  const probe = await browser.newPage();
  await probe.goto(`${shop.base}/`);
  const category = await probe.locator('a[href^="/c/"]').first().getAttribute("href");
  await probe.goto(`${shop.base}${category}`);
  // A product without options, whose page adds it to the cart in one click.
  const product = await probe.locator('li:has(button[aria-label^="Add to cart"]) a[href^="/p/"]').first().getAttribute("href");
  await probe.close();
  const pages = [
    ["home", "/", false],
    ["category", category, false],
    ["product", product, true],
  ];
  console.log(`slow 4G (1.6 Mbit/s, 150 ms RTT), CPU ${CPU_SLOWDOWN}x slower; bytes as transferred (compressed)`);
  console.log("| page | visit | HTML | CSS | JS + wasm | images | TTFB | first paint | hydrated (add to cart works) | load event | add to cart shown |");
  console.log("|---|---|---|---|---|---|---|---|---|---|---|");
  for (const [name, url, addToCart] of pages) {
    // A new browser context per page: its first visit starts with an empty cache.
    const context = await browser.newContext({ viewport: { width: 412, height: 915 } });
    // Notes when the wasm marks the page hydrated (frontend/src/lib.rs), in page time.
    await context.addInitScript(() => {
      new MutationObserver((_, obs) => {
        if (document.documentElement?.dataset.hydrated === "true") {
          window.__hydratedAt = performance.now();
          obs.disconnect();
        }
      }).observe(document, { attributes: true, subtree: true, attributeFilter: ["data-hydrated"] });
    });
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send("Network.enable");
    await cdp.send("Network.emulateNetworkConditions", SLOW_4G);
    await cdp.send("Emulation.setCPUThrottlingRate", { rate: CPU_SLOWDOWN });
    for (const visit of ["first", "repeat"]) {
      const r = await measure(page, cdp, `${shop.base}${url}`, { addToCart });
      const b = r.bytes;
      console.log(
        `| ${name} | ${visit} | ${kb(b.html)} | ${kb(b.css)} | ${kb(b["js+wasm"])} | ${kb(b.images)} | ${ms(r.ttfb)} | ${ms(r.fcp)} | ${ms(r.hydrated)} | ${ms(r.load)} | ${ms(r.click)} |`,
      );
    }
    await context.close();
  }
} finally {
  await browser.close();
  shop.stop();
}
