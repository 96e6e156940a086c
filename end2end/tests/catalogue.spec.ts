import { test, expect } from "@playwright/test";
import { hydrated, expectAccessible, cents } from "./helpers";

test("home -> category -> product -> search", async ({ page }) => {
  await page.goto("/");
  await expect(page).toHaveTitle(/Copperleaf/);
  await expect(page.getByRole("heading", { name: "Featured" })).toBeVisible();
  await expect(page.locator("ul[aria-label='Featured products'] > li")).toHaveCount(8);
  await expectAccessible(page);

  await page.getByRole("navigation", { name: "Categories" }).getByRole("link", { name: "Kitchen" }).click();
  await expect(page).toHaveURL(/\/c\/kitchen$/);
  await expect(page).toHaveTitle("Kitchen · Copperleaf");
  await expect(page.getByRole("heading", { level: 1, name: "Kitchen" })).toBeVisible();
  await expect(page.getByText("45 products")).toBeVisible();
  await expect(page.locator("ul.grid > li")).toHaveCount(24);
  await expectAccessible(page);

  // Sorting by price, then the second page.
  await hydrated(page);
  await page.getByLabel("Sort by").selectOption("price_asc");
  await expect(page).toHaveURL(/sort=price_asc/);
  const prices = await page.locator("ul.grid .price").allTextContents();
  const values = prices.map(cents);
  expect(values.length).toBe(24);
  expect([...values].sort((a, b) => a - b)).toEqual(values);
  await page.getByRole("link", { name: "Next →" }).click();
  await expect(page).toHaveURL(/page=2/);
  await expect(page.locator("ul.grid > li")).toHaveCount(21);
  const page2 = (await page.locator("ul.grid .price").allTextContents()).map(cents);
  expect(page2[0]).toBeGreaterThanOrEqual(values[values.length - 1]);

  // A product page.
  const first = page.locator("ul.grid .card-name").first();
  const name = (await first.textContent())!.trim();
  await first.click();
  await expect(page).toHaveURL(/\/p\//);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText(name);
  await expect(page).toHaveTitle(`${name} · Copperleaf`);
  await expect(page.locator(".product .stock")).toBeVisible();
  await expectAccessible(page);

  // Search from the header.
  await page.getByRole("searchbox", { name: "Search products" }).fill("knife");
  await page.getByRole("searchbox", { name: "Search products" }).press("Enter");
  await expect(page).toHaveURL(/\/search\?q=knife/);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Results for “knife”");
  const names = await page.locator("ul.grid .card-name").allTextContents();
  expect(names.length).toBeGreaterThan(0);
  await expectAccessible(page);
});

test("the page hydrates: the quantity stepper works after load", async ({ page }) => {
  await page.goto("/c/kitchen?sort=price_desc");
  await page.locator("ul.grid .card-link").first().click();
  await hydrated(page);
  const qty = page.getByLabel("Quantity", { exact: true });
  await expect(qty).toHaveValue("1");
  await page.getByRole("button", { name: "Increase quantity" }).click();
  await page.getByRole("button", { name: "Increase quantity" }).click();
  await expect(qty).toHaveValue("3");
  await page.getByRole("button", { name: "Decrease quantity" }).click();
  await expect(qty).toHaveValue("2");
});

test("bad input never breaks a page", async ({ page }) => {
  for (const path of ["/c/kitchen?page=-1", "/c/kitchen?page=abc", "/c/kitchen?page=999999", "/c/kitchen?sort=nope"]) {
    const res = await page.goto(path);
    expect(res!.status(), path).toBe(200);
    await expect(page.locator("ul.grid > li").first()).toBeVisible();
  }
  for (const q of ["%", "_", "'\"", "<script>alert(1)</script>", "</title><b>x</b>", "é".repeat(300), "x".repeat(1024)]) {
    const res = await page.goto(`/search?q=${encodeURIComponent(q)}`);
    expect(res!.status(), q).toBe(200);
    await expect(page.getByRole("heading", { level: 1 })).toBeVisible();
  }
  const missing = await page.goto("/p/does-not-exist");
  expect(missing!.status()).toBe(404);
  await expect(page.getByRole("heading", { name: "Page not found" })).toBeVisible();
  await expectAccessible(page);
  expect((await page.goto("/c/nope"))!.status()).toBe(404);
});

test("phones get a usable layout without sideways scrolling", async ({ page }) => {
  await page.setViewportSize({ width: 360, height: 740 });
  for (const path of ["/", "/c/electronics", "/search?q=lamp"]) {
    await page.goto(path);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow, path).toBeLessThanOrEqual(0);
  }
  await expectAccessible(page);
});

test("on a phone the sticky header is one compact row and the cart stays in sight", async ({ page }) => {
  await page.setViewportSize({ width: 360, height: 780 });
  await page.goto("/c/electronics");
  // At the top, the search field and the categories are there, below the bar.
  await expect(page.getByRole("searchbox", { name: "Search products" })).toBeVisible();
  await expect(page.getByRole("navigation", { name: "Categories" })).toBeVisible();
  await page.evaluate(() => window.scrollTo(0, 900));
  await expect.poll(() => page.evaluate(() => window.scrollY)).toBeGreaterThan(300);
  const header = (await page.locator(".site-header").boundingBox())!;
  expect(header.y, "the header sticks to the top").toBeLessThanOrEqual(0.5);
  expect(header.height, "the header is one row").toBeLessThanOrEqual(80);
  await expect(page.getByTestId("cart-count")).toBeInViewport();
  await expect(page.locator(".cart-link")).toBeInViewport();
  // Search and categories scrolled away with the page instead of covering it.
  await expect(page.getByRole("navigation", { name: "Categories" })).not.toBeInViewport();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
});
