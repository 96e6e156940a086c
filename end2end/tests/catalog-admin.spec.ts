import { test, expect, Browser, Page } from "@playwright/test";
import { hydrated, expectAccessible, cents, serverCommand as server, signedInContext } from "./helpers";

// Price and stock edits: an administrator on /admin/products, and the CLI beside the running
// shop (no Redis here, so the change log carries it). Shoppers see the new values.
test.describe.configure({ mode: "serial" });

const ADMIN = "catalog-admin@example.com";
const PASSWORD = "correct horse battery";

test.beforeAll(() => {
  server(["admin", "create", ADMIN], { ADMIN_PASSWORD: PASSWORD });
});

async function adminPage(browser: Browser): Promise<Page> {
  return (await signedInContext(browser, ADMIN, PASSWORD)).newPage();
}

/** The price a shopper sees on a product page, in cents. */
async function shownPrice(browser: Browser, slug: string): Promise<number> {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`/p/${slug}`);
  const price = cents((await page.locator(".price-large").textContent())!);
  await context.close();
  return price;
}

test("an admin changes a price and stock; shoppers see them at once", async ({ browser }) => {
  const page = await adminPage(browser);
  await page.goto("/admin/products?q=lamp");
  await hydrated(page);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Prices and stock");
  await expectAccessible(page);
  const row = page.locator("tr[data-slug]").first();
  const slug = (await row.getAttribute("data-slug"))!;
  const name = (await row.locator("th a").textContent())!.trim();
  const before = cents((await row.getByTestId("price").textContent())!);
  const target = before === 4321 ? 4322 : 4321;
  const amount = (target / 100).toFixed(2);

  await row.getByLabel("New price").fill(amount);
  await row.getByLabel("New stock").fill("17");
  await row.getByRole("button", { name: "Save" }).click();
  await expect(page.getByTestId("edit-saved")).toHaveText(`Saved: ${name} now costs $${amount} with 17 in stock.`);
  await expect(page.locator(`tr[data-slug="${slug}"]`).getByTestId("price")).toHaveText(`$${amount}`);
  await expect(page.locator(`tr[data-slug="${slug}"]`).getByTestId("stock")).toHaveText("17");
  expect(await shownPrice(browser, slug)).toBe(target);

  // Put the price back so other specs see the catalogue as seeded.
  await row.getByLabel("New price").fill((before / 100).toFixed(2));
  await row.getByRole("button", { name: "Save" }).click();
  await expect(page.getByTestId("edit-saved")).toContainText(`now costs $${(before / 100).toFixed(2)}`);
});

test("signed-out visitors who open the admin page are sent to sign in", async ({ page }) => {
  await page.goto("/admin/products");
  await expect(page).toHaveURL(/\/login\?next=\/admin\/products/);
});

test("a price set from the command line reaches the running shop within seconds", async ({ browser }) => {
  const page = await adminPage(browser);
  await page.goto("/admin/products?q=lamp");
  const slug = (await page.locator("tr[data-slug]").nth(1).getAttribute("data-slug"))!;
  const before = await shownPrice(browser, slug);
  const target = before === 1234 ? 1235 : 1234;
  const out = server(["catalog", "set-price", slug, (target / 100).toFixed(2)]);
  expect(out).toContain(`$${(target / 100).toFixed(2)}`);
  await expect.poll(() => shownPrice(browser, slug), { timeout: 7_000 }).toBe(target);
  server(["catalog", "set-price", slug, (before / 100).toFixed(2)]);
  await expect.poll(() => shownPrice(browser, slug), { timeout: 7_000 }).toBe(before);
});
