import { expect, Browser, BrowserContext, Page, Response } from "@playwright/test";
import AxeBuilder from "@axe-core/playwright";
import { execFileSync } from "child_process";

/** Waits until the wasm bundle has hydrated the page (frontend/src/lib.rs sets the marker). */
export async function hydrated(page: Page) {
  await expect(page.locator("html[data-hydrated=true]")).toHaveCount(1, { timeout: 15_000 });
}

/** Fails on serious or critical accessibility violations. */
export async function expectAccessible(page: Page) {
  const results = await new AxeBuilder({ page }).analyze();
  const bad = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  expect(
    bad.map((v) => `${v.id} (${v.impact}): ${v.help} -> ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`),
  ).toEqual([]);
}

/** Parses "$1,234.56" into cents. */
export function cents(text: string): number {
  const digits = text.replace(/[^0-9.]/g, "");
  return Math.round(parseFloat(digits) * 100);
}

export type Product = { id: number; name: string; slug: string; priceCents: number };

/** Products on the current listing page whose stock class is `stock.<kind>` ("in", "low", "out"). */
export async function listed(page: Page, kind: "in" | "low" | "out" = "in"): Promise<Product[]> {
  // Products with several variants are chosen on their page: listings link there instead.
  const cards = page
    .locator("ul.grid > li")
    .filter({ has: page.locator(`.stock.${kind}`) })
    .filter({ has: page.locator("input[name=variant_id]") });
  const out: Product[] = [];
  for (const card of await cards.all()) {
    const href = (await card.locator(".card-link").getAttribute("href"))!;
    out.push({
      // A product without options: its one variant has the product's id.
      id: Number(await card.locator("input[name=variant_id]").getAttribute("value")),
      name: (await card.locator(".card-name").textContent())!.trim(),
      slug: href.replace(/^\/p\//, ""),
      priceCents: cents((await card.locator(".price").textContent())!),
    });
  }
  return out;
}

/** A fresh address for every account (the database lives for the whole run). */
export function uniqueEmail(tag: string): string {
  return `${tag}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}@example.com`;
}

/** In-stock (more than 5 units) products on /c/kitchen, read from the listing. */
export async function kitchenProducts(page: Page, n: number): Promise<Product[]> {
  await page.goto("/c/kitchen");
  const out = await listed(page, "in");
  expect(out.length, "in-stock kitchen products on /c/kitchen").toBeGreaterThanOrEqual(n);
  return out.slice(0, n);
}

/** Runs a `server` command (e.g. `admin create`) on the database the test server uses. */
export function serverCommand(args: string[], env: Record<string, string> = {}): string {
  return execFileSync(process.env.E2E_SERVER_BIN!, args, {
    env: { ...process.env, DATABASE_URL: process.env.E2E_DATABASE_URL!, RUST_LOG: "warn", ...env },
    stdio: "pipe",
  }).toString();
}

/** A new browser context signed in with this account (through the API, like a returning visitor). */
export async function signedInContext(browser: Browser, email: string, password: string): Promise<BrowserContext> {
  const context = await browser.newContext();
  const res = await context.request.post("/api/auth/login", { form: { email, password } });
  expect(res.status(), await res.text()).toBe(200);
  return context;
}

/** Runs `action` and waits for the endpoint it triggers (e.g. `cart/add`, `auth/login`) to answer `status`. */
export async function apiCall(
  page: Page,
  endpoint: string,
  action: () => Promise<unknown>,
  status = 200,
): Promise<Response> {
  const answered = page.waitForResponse(
    (r) => new URL(r.url()).pathname === `/api/${endpoint}` && r.request().method() === "POST",
  );
  await action();
  const res = await answered;
  expect(res.status(), `/api/${endpoint}`).toBe(status);
  return res;
}
