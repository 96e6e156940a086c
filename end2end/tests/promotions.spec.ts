import { test, expect, Browser, Page } from "@playwright/test";
import { apiCall, hydrated, cents, kitchenProducts, serverCommand as server, signedInContext, Product } from "./helpers";

// Discount codes, free shipping at the threshold, shipping methods and tax at checkout, and a
// code an administrator creates that a shopper then uses: with and without JavaScript. The demo
// seeds the codes FREESHIP (free shipping) and WELCOME10; shipping to the US and the UK is $4.99,
// free from $50, and UK prices include 20% VAT.
test.describe.configure({ mode: "serial" });

const ADMIN = "promotions-admin@example.com";
const PASSWORD = "correct horse battery";
const FLAT = 499;
const FREE_FROM = 5000;

test.beforeAll(() => {
  server(["admin", "create", ADMIN], { ADMIN_PASSWORD: PASSWORD });
});


/**
 * The dearest of the first in-stock kitchen products under the free-shipping threshold (so a few
 * of it reach the threshold), added once; leaves the page on /cart.
 */
async function cartWithCheapProduct(page: Page): Promise<Product> {
  const products = (await kitchenProducts(page, 3)).filter((x) => x.priceCents < FREE_FROM);
  expect(products.length, "a product under the free-shipping threshold").toBeGreaterThan(0);
  const p = products.reduce((a, b) => (b.priceCents > a.priceCents ? b : a));
  const res = await page.request.post("/api/cart/add", { form: { variant_id: String(p.id), quantity: "1" } });
  expect(res.status()).toBe(200);
  await page.goto("/cart");
  return p;
}

function summary(page: Page) {
  const aside = page.locator("aside.summary");
  return {
    shipping: aside.getByTestId("pricing-shipping"),
    total: aside.getByTestId("cart-total"),
    discounts: aside.getByTestId("discount"),
  };
}

test("a code is applied and removed in the cart; a wrong one is refused", async ({ page }) => {
  const p = await cartWithCheapProduct(page);
  await hydrated(page);
  const s = summary(page);
  await expect(s.shipping).toHaveText("$4.99");
  expect(cents((await s.total.textContent())!)).toBe(p.priceCents + FLAT);
  // The footer says what the store's tax setting is (prices include tax in the demo).
  await expect(page.getByTestId("tax-note")).toHaveText(" · Prices include tax where it applies");

  await page.getByLabel("Discount code").fill("nope-123");
  await apiCall(page, "cart/code", () => page.getByRole("button", { name: "Apply" }).click(), 422);
  await expect(page.locator(".notices")).toContainText("The code NOPE-123 is not valid.");
  await expect(s.discounts).toHaveCount(0);

  await page.getByLabel("Discount code").fill("freeship");
  await apiCall(page, "cart/code", () => page.getByRole("button", { name: "Apply" }).click());
  await expect(page.getByTestId("applied-code")).toHaveText("FREESHIP");
  await expect(s.discounts).toHaveText("−$4.99");
  expect(cents((await s.total.textContent())!)).toBe(p.priceCents);

  // The code is the cart's: it is still there after a reload, rendered by the server.
  const html = await (await page.request.get("/cart")).text();
  expect(html).toContain("FREESHIP");

  await apiCall(page, "cart/code/remove", () => page.getByRole("button", { name: "Remove", exact: true }).click());
  await expect(page.getByTestId("applied-code")).toHaveCount(0);
  await expect(s.discounts).toHaveCount(0);
  expect(cents((await s.total.textContent())!)).toBe(p.priceCents + FLAT);
});

test("without JavaScript a code is applied and refused through the plain form", async ({ browser, baseURL }) => {
  const context = await browser.newContext({ baseURL, javaScriptEnabled: false });
  const page = await context.newPage();
  try {
    const p = await cartWithCheapProduct(page);
    await page.getByLabel("Discount code").fill("NOT-A-CODE");
    await page.getByRole("button", { name: "Apply" }).click();
    await expect(page).toHaveURL(/\/cart$/);
    await expect(page.locator(".notices")).toContainText("The code NOT-A-CODE is not valid.");

    await page.getByLabel("Discount code").fill("FREESHIP");
    await page.getByRole("button", { name: "Apply" }).click();
    await expect(page).toHaveURL(/\/cart$/);
    await expect(page.getByTestId("applied-code")).toHaveText("FREESHIP");
    expect(cents((await summary(page).total.textContent())!)).toBe(p.priceCents);
  } finally {
    await context.close();
  }
});

test("shipping turns free when the subtotal reaches the threshold", async ({ page }) => {
  const p = await cartWithCheapProduct(page);
  await hydrated(page);
  const s = summary(page);
  await expect(s.shipping).toHaveText("$4.99");
  const needed = Math.ceil(FREE_FROM / p.priceCents);
  const line = page.locator("li.cart-line").filter({ hasText: p.name });
  await line.getByLabel(/Quantity/).fill(String(needed));
  await apiCall(page, "cart/set", () => line.getByRole("button", { name: /Update/ }).click());
  await expect(s.shipping).toHaveText("Free");
  expect(cents((await s.total.textContent())!)).toBe(p.priceCents * needed);
});

test("checkout ships to the UK by express with VAT shown, and the order keeps it", async ({ page }) => {
  const p = await cartWithCheapProduct(page);
  await page.goto("/checkout");
  await hydrated(page);
  const total = page.getByTestId("checkout-total");
  await expect(total).toHaveText(/\$/);
  expect(cents((await total.textContent())!)).toBe(p.priceCents + FLAT);

  await page.locator("#email").fill("express.buyer@example.com");
  await page.locator("#name").fill("Ann Lee");
  await page.locator("#line1").fill("1 High Street");
  await page.locator("#city").fill("London");
  await page.locator("#postcode").fill("SW1A 1AA");
  await apiCall(page, "cart/delivery", () => page.locator("#country").selectOption("GB"));
  const vat = page.locator("aside.summary").getByTestId("tax-line");
  await expect(vat).toHaveCount(1);
  await expect(page.locator("aside.summary dt.tax")).toHaveText("Includes VAT");
  // Prices include VAT: the total is unchanged, and the VAT is a sixth of it.
  expect(cents((await total.textContent())!)).toBe(p.priceCents + FLAT);
  expect(Math.abs(cents((await vat.textContent())!) - Math.round((p.priceCents + FLAT) / 6))).toBeLessThanOrEqual(1);

  const express = page.getByRole("radio", { name: /^Express/ });
  const expressPrice = cents((await express.locator("xpath=..").textContent())!.split("·").pop()!);
  expect(expressPrice).toBeGreaterThan(FLAT);
  await apiCall(page, "cart/delivery", () => express.check());
  await expect(express).toBeChecked();
  await expect.poll(async () => cents((await total.textContent())!)).toBe(p.priceCents + expressPrice);
  const shown = (await total.textContent())!.trim();
  const place = page.getByRole("button", { name: `Place order · ${shown}` });
  await expect(place).toBeEnabled();
  await apiCall(page, "checkout/place", () => place.click());

  await expect(page.getByTestId("order-total")).toHaveText(shown);
  await expect(page.locator("aside.summary")).toContainText("Express");
  await expect(page.getByTestId("order-tax")).toHaveCount(1);
  await expect(page.locator("address")).toContainText("United Kingdom");
});

async function adminPage(browser: Browser): Promise<Page> {
  return (await signedInContext(browser, ADMIN, PASSWORD)).newPage();
}

test("an administrator creates a code that a shopper then uses", async ({ browser, page }) => {
  const admin = await adminPage(browser);
  const code = `E2E${Date.now().toString(36).toUpperCase()}`;
  await admin.goto("/admin/promotions");
  await hydrated(admin);
  await admin.getByLabel("Name shown to shoppers").fill("Five off for testers");
  await admin.getByLabel("Code (empty: automatic)").fill(code);
  await admin.getByLabel("Gives").selectOption("fixed");
  await admin.getByLabel("Percent or amount").fill("5.00");
  await admin.getByLabel("Uses in all").fill("3");
  await apiCall(admin, "admin/promotions/save", () => admin.getByRole("button", { name: "Save promotion" }).click());
  const row = admin.locator(`tr[data-code="${code}"]`);
  await expect(row).toHaveCount(1);
  await expect(row.getByTestId("times-used")).toHaveText("0 of 3");

  // A percentage over 100 is refused and nothing is saved.
  await admin.getByLabel("Name shown to shoppers").fill("Too generous");
  await admin.getByLabel("Code (empty: automatic)").fill(`${code}X`);
  await admin.getByLabel("Gives").selectOption("percent");
  await admin.getByLabel("Percent or amount").fill("150");
  await apiCall(admin, "admin/promotions/save", () => admin.getByRole("button", { name: "Save promotion" }).click(), 422);
  await expect(admin.getByRole("alert")).toContainText("percentage");
  await expect(admin.locator(`tr[data-code="${code}X"]`)).toHaveCount(0);

  const p = await cartWithCheapProduct(page);
  await hydrated(page);
  await page.getByLabel("Discount code").fill(code.toLowerCase());
  await apiCall(page, "cart/code", () => page.getByRole("button", { name: "Apply" }).click());
  await expect(summary(page).discounts).toHaveText("−$5.00");
  await page.getByRole("link", { name: "Check out", exact: true }).click();
  await hydrated(page);
  const total = page.getByTestId("checkout-total");
  await expect(total).toHaveText(/\$/);
  const expected = Math.max(p.priceCents - 500, 0) + FLAT;
  expect(cents((await total.textContent())!)).toBe(expected);
  await page.locator("#email").fill("code.user@example.com");
  await page.locator("#name").fill("Code User");
  await page.locator("#line1").fill("2 Main St");
  await page.locator("#city").fill("Springfield");
  await page.locator("#postcode").fill("12345");
  await apiCall(page, "checkout/place", () => page.getByRole("button", { name: /^Place order · / }).click());
  await expect(page.getByTestId("order-discount")).toHaveText("−$5.00");
  expect(cents((await page.getByTestId("order-total").textContent())!)).toBe(expected);

  await admin.reload();
  await expect(admin.locator(`tr[data-code="${code}"]`).getByTestId("times-used")).toHaveText("1 of 3");
  await admin.locator(`tr[data-code="${code}"]`).getByRole("link").click();
  await expect(admin.getByTestId("redemptions")).toContainText("saved $5.00");
});
