import { test, expect, Page } from "@playwright/test";
import * as path from "path";
import { hydrated, cents, serverCommand } from "./helpers";

/** The first product on /c/apparel that has options (its card links to "Choose options"). */
async function productWithOptions(page: Page): Promise<{ name: string; href: string }> {
  await page.goto("/c/apparel");
  const link = page.getByRole("link", { name: /^Choose options: / }).first();
  await expect(link).toHaveCount(1);
  const label = (await link.getAttribute("aria-label"))!;
  return { name: label.replace(/^Choose options: /, ""), href: (await link.getAttribute("href"))! };
}

/** The value labels of an option group that can be bought now (not sold out, existing). */
async function availableValues(page: Page, option: string): Promise<string[]> {
  const group = page.getByRole("group", { name: option });
  const labels = group.locator(".option:not(.option-sold-out):not(.option-missing) label");
  return (await labels.allTextContents()).map((t) => t.trim());
}

test("options are picked and added with JavaScript: price, URL and cart follow the variant", async ({ page }) => {
  const product = await productWithOptions(page);
  await page.goto(product.href);
  await hydrated(page);
  await expect(page.getByRole("group", { name: "Size" })).toBeVisible();
  await expect(page.getByRole("group", { name: "Colour" })).toBeVisible();

  // Pick a size other than the one shown: the URL names the variant, without a reload.
  const sizes = await availableValues(page, "Size");
  const checked = await page.getByRole("group", { name: "Size" }).locator("input:checked").getAttribute("value");
  const size = sizes.find((s) => s !== checked) ?? sizes[0];
  await page.evaluate(() => ((window as unknown as { marker: number }).marker = 1));
  await page.getByRole("group", { name: "Size" }).getByText(size, { exact: true }).click();
  await expect(page).toHaveURL(/\?variant=/);
  await expect(page.getByRole("radio", { name: size, exact: true })).toBeChecked();
  expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker), "no reload").toBe(1);
  const colour = await page.getByRole("group", { name: "Colour" }).locator("input:checked").getAttribute("value");
  const price = cents((await page.getByTestId("product-price").textContent())!.split(" ").pop()!);

  // The shared address renders the same variant on the server.
  const shared = await page.request.get(page.url());
  expect(await shared.text()).toMatch(new RegExp(`<input[^>]*value="${size}"[^>]*checked`));

  const added = page.waitForResponse((r) => new URL(r.url()).pathname === "/api/cart/add");
  await page.getByRole("button", { name: "Add to cart", exact: true }).click();
  expect((await added).status()).toBe(200);
  await page.goto("/cart");
  const line = page.locator("li.cart-line").filter({ hasText: product.name });
  await expect(line).toHaveCount(1);
  await expect(line.locator(".line-options")).toHaveText(`Size: ${size} / Colour: ${colour}`);
  expect(cents((await line.locator(".line-meta").textContent())!)).toBe(price);
});

test("options are picked and added without JavaScript", async ({ browser, baseURL }) => {
  const context = await browser.newContext({ baseURL, javaScriptEnabled: false });
  const page = await context.newPage();
  const product = await productWithOptions(page);
  await page.goto(product.href);
  const colours = await availableValues(page, "Colour");
  const colour = colours[colours.length - 1];
  await page.getByRole("group", { name: "Colour" }).getByText(colour, { exact: true }).click();
  await page.getByRole("button", { name: "Show this choice" }).click();
  // The server answers the form with the variant's own address.
  await expect(page).toHaveURL(/\?variant=/);
  await expect(page.getByRole("radio", { name: colour, exact: true })).toBeChecked();
  const size = await page.getByRole("group", { name: "Size" }).locator("input:checked").getAttribute("value");
  await page.getByRole("button", { name: "Add to cart", exact: true }).click();
  await page.goto("/cart");
  const line = page.locator("li.cart-line").filter({ hasText: product.name });
  await expect(line.locator(".line-options")).toHaveText(`Size: ${size} / Colour: ${colour}`);
  await context.close();
});

test("a sold-out combination cannot be added", async ({ page }) => {
  // Walk the apparel products until one has a sold-out value for the variant shown.
  await page.goto("/c/apparel");
  const hrefs = await page
    .getByRole("link", { name: /^Choose options: / })
    .evaluateAll((links) => links.map((l) => l.getAttribute("href")!));
  for (const href of hrefs) {
    await page.goto(href);
    const soldOut = page.locator(".option-sold-out input");
    if ((await soldOut.count()) === 0) continue;
    await hydrated(page);
    const value = await soldOut.first().getAttribute("value");
    await page.locator(".option-sold-out label").first().click();
    await expect(page.locator(`.option input[value="${value}"]`).first()).toBeChecked();
    await expect(page.getByTestId("product-stock")).toHaveText("Sold out");
    await expect(page.getByRole("button", { name: "Sold out" })).toBeDisabled();
    // And the server refuses it too.
    const variant = await page.locator(".buy-form input[name=variant_id]").inputValue();
    const res = await page.request.post("/api/cart/add", { form: { variant_id: variant, quantity: "1" } });
    expect(res.status()).toBe(422);
    return;
  }
  throw new Error("no apparel product with a sold-out variant");
});

test("the sample Shopify export imports into the running shop and its products can be browsed and bought", async ({
  page,
}) => {
  const repo = path.resolve(__dirname, "..", "..");
  const report = serverCommand([
    "catalog",
    "import",
    path.join(repo, "samples", "shopify_products.csv"),
    "--public-dir",
    path.join(repo, "public"),
  ]);
  expect(report).toMatch(/products: 32 created/);
  // The running server hears of the import through the change log (every 2 s).
  await expect
    .poll(async () => (await page.request.get("/p/merino-crew-tee")).status(), { timeout: 15_000 })
    .toBe(200);
  await page.goto("/p/merino-crew-tee");
  await hydrated(page);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Merino Crew Tee");
  await expect(page.getByRole("group", { name: "Size" })).toBeVisible();
  // The description's HTML survives sanitising as HTML.
  await expect(page.locator(".description li").first()).toBeVisible();
  await page.getByRole("group", { name: "Size" }).getByText("L", { exact: true }).click();
  await expect(page).toHaveURL(/\?variant=MCT-L-/);
  const added = page.waitForResponse((r) => new URL(r.url()).pathname === "/api/cart/add");
  await page.getByRole("button", { name: "Add to cart", exact: true }).click();
  expect((await added).status()).toBe(200);
  await page.goto("/search?q=merino");
  await expect(page.getByRole("link", { name: "Merino Crew Tee" }).first()).toBeVisible();
});
