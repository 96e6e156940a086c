import { test, expect, Page, Locator, Response } from "@playwright/test";
import { hydrated, cents, listed, Product } from "./helpers";

/** The browser's backup copy of the guest cart (app/src/client/local_cart.rs). */
const CART_KEY = "copperleaf.cart.v1";


/** In-stock (more than 5 units) kitchen products, read from the listing. */
async function kitchenProducts(page: Page, n: number): Promise<Product[]> {
  await page.goto("/c/kitchen");
  const products = await listed(page, "in");
  expect(products.length, "in-stock kitchen products on /c/kitchen").toBeGreaterThanOrEqual(n);
  return products.slice(0, n);
}

function badge(page: Page): Locator {
  return page.getByTestId("cart-count");
}

function line(page: Page, p: Product): Locator {
  return page.locator(`li.cart-line[data-product-id="${p.id}"]`);
}

function qtyInput(page: Page, p: Product): Locator {
  return line(page, p).locator("input[type=number][name=quantity]");
}

/** Runs `action` and waits for the cart endpoint it triggers to answer successfully. */
async function cartCall(page: Page, endpoint: string, action: () => Promise<unknown>): Promise<Response> {
  const answered = page.waitForResponse(
    (r) => new URL(r.url()).pathname === `/api/cart/${endpoint}` && r.request().method() === "POST",
  );
  await action();
  const res = await answered;
  expect(res.status(), `/api/cart/${endpoint}`).toBe(200);
  return res;
}

/** The listing's "Add to cart" button of a product (listing pages only). */
function addButton(page: Page, p: Product): Locator {
  return page.getByRole("button", { name: `Add to cart: ${p.name}`, exact: true });
}

/** Checks the /cart page: exactly these lines with these quantities, consistent totals. */
async function expectCartPage(page: Page, expected: [Product, number][]) {
  await expect(page.locator("li.cart-line")).toHaveCount(expected.length);
  let sum = 0;
  for (const [p, q] of expected) {
    const l = line(page, p);
    await expect(l.getByRole("heading", { level: 3 })).toHaveText(p.name);
    await expect(qtyInput(page, p)).toHaveValue(String(q));
    await expect(l.locator(".line-total")).toHaveText(/\$/);
    const total = cents((await l.locator(".line-total").textContent())!);
    expect(total, `line total of ${p.name}`).toBe(p.priceCents * q);
    sum += total;
  }
  const count = expected.reduce((n, [, q]) => n + q, 0);
  await expect(page.getByTestId("cart-items")).toHaveText(String(count));
  await expect(badge(page)).toHaveText(String(count));
  expect(cents((await page.getByTestId("cart-subtotal").textContent())!)).toBe(sum);
}

async function savedCart(page: Page): Promise<string | null> {
  return page.evaluate((key) => window.localStorage.getItem(key), CART_KEY);
}

/** Lines of the saved copy as `id:quantity` strings, or null when there is none. */
async function savedLines(page: Page): Promise<string[] | null> {
  const raw = await savedCart(page);
  if (raw === null) return null;
  const saved = JSON.parse(raw) as { lines: { product_id: number; quantity: number }[] };
  return saved.lines.map((l) => `${l.product_id}:${l.quantity}`);
}

test("add from a listing and a product page; the cart page adds up", async ({ page }) => {
  const [a, b, c] = await kitchenProducts(page, 3);
  await hydrated(page);
  await expect(badge(page)).toHaveText("0");

  await cartCall(page, "add", () => addButton(page, a).click());
  await expect(badge(page)).toHaveText("1");
  await expect(page.locator(".notices")).toContainText("Added to your cart.");
  await cartCall(page, "add", () => addButton(page, b).click());
  await cartCall(page, "add", () => addButton(page, a).click());
  await expect(badge(page)).toHaveText("3");
  await expect(page).toHaveURL(/\/c\/kitchen$/);

  // A product page: quantity 2 through the stepper.
  await page.goto(`/p/${c.slug}`);
  await hydrated(page);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText(c.name);
  await expect(badge(page)).toHaveText("3");
  const qty = page.getByLabel("Quantity", { exact: true });
  await expect(qty).toHaveValue("1");
  await page.getByRole("button", { name: "Increase quantity" }).click();
  await expect(qty).toHaveValue("2");
  await cartCall(page, "add", () => page.locator("form.buy-form").getByRole("button", { name: "Add to cart" }).click());
  await expect(badge(page)).toHaveText("5");

  await page.goto("/cart");
  await expect(page).toHaveTitle("Your cart · Copperleaf");
  await expectCartPage(page, [
    [a, 2],
    [b, 1],
    [c, 2],
  ]);
});

test("cart page: +, −, Update and Remove change the cart, and it survives a reload", async ({ page }) => {
  const [a, b, c] = await kitchenProducts(page, 3);
  await hydrated(page);
  await cartCall(page, "add", () => addButton(page, a).click());
  await cartCall(page, "add", () => addButton(page, a).click());
  await cartCall(page, "add", () => addButton(page, b).click());
  await cartCall(page, "add", () => addButton(page, c).click());
  await expect(badge(page)).toHaveText("4");

  await page.goto("/cart");
  await hydrated(page);
  await expectCartPage(page, [
    [a, 2],
    [b, 1],
    [c, 1],
  ]);

  await cartCall(page, "add", () => page.getByRole("button", { name: `One more ${a.name}`, exact: true }).click());
  await expectCartPage(page, [
    [a, 3],
    [b, 1],
    [c, 1],
  ]);

  await cartCall(page, "set", () => page.getByRole("button", { name: `One fewer ${a.name}`, exact: true }).click());
  await cartCall(page, "set", () => page.getByRole("button", { name: `One fewer ${a.name}`, exact: true }).click());
  await expectCartPage(page, [
    [a, 1],
    [b, 1],
    [c, 1],
  ]);

  await qtyInput(page, b).fill("4");
  await cartCall(page, "set", () => line(page, b).getByRole("button", { name: "Update" }).click());
  await expectCartPage(page, [
    [a, 1],
    [b, 4],
    [c, 1],
  ]);

  await cartCall(page, "remove", () =>
    page.getByRole("button", { name: `Remove ${c.name} from cart`, exact: true }).click(),
  );
  await expectCartPage(page, [
    [a, 1],
    [b, 4],
  ]);

  // "−" on a single unit removes the line.
  await cartCall(page, "set", () => page.getByRole("button", { name: `One fewer ${a.name}`, exact: true }).click());
  await expectCartPage(page, [[b, 4]]);

  // The server holds the cart: a reload shows exactly the same.
  await page.reload();
  await hydrated(page);
  await expectCartPage(page, [[b, 4]]);
  // And so does a fresh request without the browser's copy.
  const html = await (await page.request.get("/cart")).text();
  expect(html).toContain(`data-product-id="${b.id}"`);
  expect(html).not.toContain(`data-product-id="${a.id}"`);
  expect(html).not.toContain(`data-product-id="${c.id}"`);
});

test("cookies cleared: the cart comes back from the browser's copy", async ({ page, context }) => {
  const [a, b] = await kitchenProducts(page, 2);
  await hydrated(page);
  await cartCall(page, "add", () => addButton(page, a).click());
  await cartCall(page, "add", () => addButton(page, a).click());
  await cartCall(page, "add", () => addButton(page, b).click());
  await expect(badge(page)).toHaveText("3");
  await expect.poll(() => savedLines(page)).toEqual([`${a.id}:2`, `${b.id}:1`]);

  await context.clearCookies();
  // The server has lost the cart: without cookies it renders an empty one.
  const html = await (await page.request.get("/cart")).text();
  expect(html).toContain("Your cart is empty");

  const restore = page.waitForResponse((r) => new URL(r.url()).pathname === "/api/cart/restore");
  await page.reload();
  await hydrated(page);
  expect((await restore).status()).toBe(200);
  await expect(badge(page)).toHaveText("3");
  await expect(page.locator(".notices")).toContainText(/restored/i);

  // The restored cart lives on the server again.
  await page.goto("/cart");
  await expectCartPage(page, [
    [a, 2],
    [b, 1],
  ]);
  const again = await (await page.request.get("/cart")).text();
  expect(again).toContain(`data-product-id="${a.id}"`);
  expect(again).toContain(`data-product-id="${b.id}"`);
});

test("a corrupt or tampered browser copy is ignored and cleared", async ({ page }) => {
  const [a] = await kitchenProducts(page, 1);
  const restores: string[] = [];
  page.on("request", (r) => {
    if (new URL(r.url()).pathname === "/api/cart/restore") restores.push(r.url());
  });
  const tampered = JSON.stringify({ lines: [{ product_id: a.id, quantity: 500 }], version: 3, saved_at: Date.now() });
  for (const bad of ["not json", tampered]) {
    await page.evaluate(([key, value]) => window.localStorage.setItem(key, value), [CART_KEY, bad]);
    await page.reload();
    await hydrated(page);
    await expect(badge(page)).toHaveText("0");
    // The bad value is gone: removed, or replaced by the server's (empty) cart.
    await expect.poll(() => savedCart(page), { message: `after storing ${bad}` }).not.toBe(bad);
    const lines = await savedLines(page);
    expect(lines === null || lines.length === 0, `saved lines after ${bad}: ${lines}`).toBe(true);
    // The page still works: the hydrated add button adds.
    await page.goto(`/p/${a.slug}`);
    await hydrated(page);
    await page.getByRole("button", { name: "Increase quantity" }).click();
    await expect(page.getByLabel("Quantity", { exact: true })).toHaveValue("2");
    await page.goto("/c/kitchen");
  }
  expect(restores, "nothing is restored from a bad copy").toEqual([]);
  await page.goto("/cart");
  await expect(page.getByRole("heading", { name: "Your cart is empty" })).toBeVisible();
});

test("a second tab follows cart changes without a reload", async ({ context }) => {
  const pageA = await context.newPage();
  const pageB = await context.newPage();
  const [a, b] = await kitchenProducts(pageA, 2);
  await hydrated(pageA);
  await pageB.goto("/");
  await hydrated(pageB);
  await expect(badge(pageB)).toHaveText("0");

  await cartCall(pageA, "add", () => addButton(pageA, a).click());
  await expect(badge(pageA)).toHaveText("1");
  await expect(badge(pageB)).toHaveText("1");

  await cartCall(pageA, "add", () => addButton(pageA, b).click());
  await cartCall(pageA, "add", () => addButton(pageA, b).click());
  await expect(badge(pageB)).toHaveText("3");

  // And the other way round, from the cart page in tab B.
  await pageB.goto("/cart");
  await hydrated(pageB);
  await cartCall(pageB, "remove", () =>
    pageB.getByRole("button", { name: `Remove ${b.name} from cart`, exact: true }).click(),
  );
  await expect(badge(pageB)).toHaveText("1");
  await expect(badge(pageA)).toHaveText("1");
});

test.describe("without JavaScript", () => {
  test.use({ javaScriptEnabled: false });

  test("forms post and redirect back with a notice", async ({ page }) => {
    const [a, b] = await kitchenProducts(page, 2);
    await expect(page.locator("html[data-hydrated]")).toHaveCount(0);
    await expect(badge(page)).toHaveText("0");

    await addButton(page, a).click();
    await expect(page).toHaveURL(/\/c\/kitchen$/);
    await expect(page.locator(".notices .notice-ok")).toHaveText("Added to your cart.");
    await expect(badge(page)).toHaveText("1");

    await addButton(page, b).click();
    await expect(page).toHaveURL(/\/c\/kitchen$/);
    await expect(badge(page)).toHaveText("2");
    // The flash is shown once only.
    await page.reload();
    await expect(page.locator(".notices .notice")).toHaveCount(0);
    await expect(badge(page)).toHaveText("2");

    // A listing with a query string: back to exactly that URL.
    await page.goto("/c/kitchen?sort=price_desc");
    const [c] = await listed(page, "in");
    await addButton(page, c).click();
    await expect(page).toHaveURL(/\/c\/kitchen\?sort=price_desc$/);
    await expect(page.locator(".notices .notice-ok")).toHaveText("Added to your cart.");
    await expect(badge(page)).toHaveText("3");

    await page.goto("/cart");
    await expectCartPage(
      page,
      c.id === a.id
        ? [
            [a, 2],
            [b, 1],
          ]
        : c.id === b.id
          ? [
              [a, 1],
              [b, 2],
            ]
          : [
              [a, 1],
              [b, 1],
              [c, 1],
            ],
    );
    const before = c.id === a.id || c.id === b.id ? [] : [c];

    await qtyInput(page, a).fill("3");
    await line(page, a).getByRole("button", { name: "Update" }).click();
    await expect(page).toHaveURL(/\/cart$/);
    await expect(page.locator(".notices .notice-ok")).toHaveText("Your cart was updated.");
    await expect(qtyInput(page, a)).toHaveValue("3");

    await page.getByRole("button", { name: `Remove ${b.name} from cart`, exact: true }).click();
    await expect(page).toHaveURL(/\/cart$/);
    await expect(page.locator(".notices .notice-ok")).toHaveText("Removed from your cart.");
    const expected: [Product, number][] = [[a, 3], ...before.map((p): [Product, number] => [p, 1])];
    await expectCartPage(page, expected);

    // A quantity over the limit: first the browser's own constraint check (max) stops the form.
    const posts: string[] = [];
    page.on("request", (r) => {
      if (r.method() === "POST") posts.push(r.url());
    });
    await qtyInput(page, a).fill("150");
    await line(page, a).getByRole("button", { name: "Update" }).click();
    expect(await qtyInput(page, a).evaluate((el: HTMLInputElement) => el.validity.rangeOverflow)).toBe(true);
    await page.waitForTimeout(300);
    expect(posts, "the browser does not submit an out-of-range quantity").toEqual([]);

    // Then the server: with the field's limits lifted (as an old browser or a hand-made request
    // would), it refuses the quantity with an error notice and the cart is unchanged.
    await qtyInput(page, a).evaluate((el) => el.removeAttribute("max"));
    await qtyInput(page, a).fill("150");
    await line(page, a).getByRole("button", { name: "Update" }).click();
    await expect(page).toHaveURL(/\/cart$/);
    await expect(page.locator(".notices .notice-error")).toHaveText("Quantity must be between 0 and 99.");
    await expectCartPage(page, expected);
  });
});

test("adding more than the stock keeps the cart at the stock", async ({ page }) => {
  // Find a product with little stock ("Only N left") in the catalogue.
  await page.goto("/");
  const categories = await page
    .getByRole("navigation", { name: "Categories" })
    .getByRole("link")
    .evaluateAll((links) => links.map((l) => l.getAttribute("href")!));
  expect(categories.length).toBeGreaterThan(0);
  let low: Product | undefined;
  search: for (const path of categories) {
    for (let n = 1; n <= 10; n++) {
      await page.goto(`${path}?page=${n}`);
      const found = await listed(page, "low");
      if (found.length > 0) {
        low = found[0];
        break search;
      }
      if ((await page.getByRole("link", { name: "Next →" }).count()) === 0) break;
    }
  }
  expect(low, "a product with low stock").toBeDefined();
  const p = low!;

  await page.goto(`/p/${p.slug}`);
  await hydrated(page);
  const label = (await page.locator(".product .stock.low").textContent())!;
  const stock = Number(/Only (\d+) left/.exec(label)![1]);
  expect(stock).toBeGreaterThanOrEqual(1);
  expect(stock).toBeLessThanOrEqual(5);

  const qty = page.getByLabel("Quantity", { exact: true });
  await qty.fill("99");
  await expect(qty).toHaveValue(String(stock));
  const add = page.locator("form.buy-form").getByRole("button", { name: "Add to cart" });
  await cartCall(page, "add", () => add.click());
  await expect(badge(page)).toHaveText(String(stock));

  // Asking for more than is left: the cart keeps the stock and says why.
  await cartCall(page, "add", () => add.click());
  await expect(page.locator(".notices")).toContainText(new RegExp(`Only ${stock} of .* in stock`));
  await expect(badge(page)).toHaveText(String(stock));

  await page.goto("/cart");
  await expectCartPage(page, [[p, stock]]);
  await expect(page.getByRole("button", { name: `One more ${p.name}`, exact: true })).toBeDisabled();
});
