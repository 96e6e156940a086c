import { test, expect, Page, Locator, Response, Browser } from "@playwright/test";
import { hydrated, cents, listed, Product, uniqueEmail, kitchenProducts, serverCommand, apiCall } from "./helpers";

/** The browser's backup copy of the cart (app/src/client/local_cart.rs). */
const CART_KEY = "copperleaf.cart.v1";
const PASSWORD = "correct horse battery";
/** app/src/domain/checkout.rs: below this subtotal, shipping costs FLAT_SHIPPING_CENTS. */
const FREE_SHIPPING_FROM_CENTS = 5_000;
const FLAT_SHIPPING_CENTS = 499;
/** app/src/services/checkout.rs: "CL-" and the first 8 characters of a UUID, upper case. */
const REFERENCE = /^CL-[0-9A-F]{8}$/;

type Address = { name: string; line1: string; line2: string; city: string; postcode: string; country: string };

const ADDRESS: Address = {
  name: "Ann Lee",
  line1: "1 Main Street",
  line2: "Flat 2",
  city: "Springfield",
  postcode: "AB1 2CD",
  country: "GB",
};


/**
 * Walks the category listings until a page has a product with this stock class; leaves the
 * page on that listing. `skip` products are passed over (e.g. ones other tests rely on).
 */
async function findListed(page: Page, kind: "low" | "out", skip = 0): Promise<Product> {
  await page.goto("/");
  const categories = await page
    .getByRole("navigation", { name: "Categories" })
    .getByRole("link")
    .evaluateAll((links) => links.map((l) => l.getAttribute("href")!));
  expect(categories.length).toBeGreaterThan(0);
  let seen = 0;
  for (const path of categories) {
    for (let n = 1; n <= 10; n++) {
      const url = `${path}?page=${n}`;
      await page.goto(url);
      for (const p of await listed(page, kind)) {
        if (seen++ >= skip) return p;
      }
      if ((await page.getByRole("link", { name: "Next →" }).count()) === 0) break;
    }
  }
  throw new Error(`no product with stock class "${kind}" in the catalogue`);
}

function badge(page: Page): Locator {
  return page.getByTestId("cart-count");
}

function addButton(page: Page, p: Product): Locator {
  return page.getByRole("button", { name: `Add to cart: ${p.name}`, exact: true });
}

function placeButton(page: Page): Locator {
  return page.getByRole("button", { name: /^Place order · / });
}


/** Creates an account through the API from this page's context, which is then signed in. */
async function registerViaApi(page: Page, email: string) {
  const res = await page.request.post("/api/auth/register", { form: { email, password: PASSWORD } });
  expect(res.status(), `register ${email}: ${await res.text()}`).toBe(200);
}

/** Lines of the saved copy as `id:quantity` strings, or null when there is none. */
async function savedLines(page: Page): Promise<string[] | null> {
  const raw = await page.evaluate((key) => window.localStorage.getItem(key), CART_KEY);
  if (raw === null) return null;
  const saved = JSON.parse(raw) as { lines: { product_id: number; quantity: number }[] };
  return saved.lines.map((l) => `${l.product_id}:${l.quantity}`);
}

/** Fills the checkout form; `email` undefined leaves the field as it is (prefilled for accounts). */
async function fillCheckout(page: Page, email: string | undefined, address: Address = ADDRESS) {
  if (email !== undefined) await page.locator("#email").fill(email);
  await page.locator("#name").fill(address.name);
  await page.locator("#line1").fill(address.line1);
  await page.locator("#line2").fill(address.line2);
  await page.locator("#city").fill(address.city);
  await page.locator("#postcode").fill(address.postcode);
  await page.locator("#country").selectOption(address.country);
  // A new country is priced before the order can be placed (shipping and tax follow it).
  await expect(placeButton(page)).toBeEnabled();
}

/** The checkout page's total, checked against the expected subtotal plus shipping. */
async function checkoutTotal(page: Page, subtotalCents: number): Promise<string> {
  const total = page.getByTestId("checkout-total");
  await expect(total).toHaveText(/\$/);
  const text = (await total.textContent())!.trim();
  const shipping = subtotalCents >= FREE_SHIPPING_FROM_CENTS ? 0 : FLAT_SHIPPING_CENTS;
  expect(cents(text), "checkout total = subtotal + shipping").toBe(subtotalCents + shipping);
  await expect(placeButton(page)).toHaveText(`Place order · ${text}`);
  return text;
}

const ORDER_URL = /\/orders\/[0-9a-f-]{36}(\?key=[0-9a-f]{32})?$/;

/** Checks the confirmation page and returns the order's reference. */
async function expectConfirmation(page: Page, names: string[], total: string): Promise<string> {
  await expect(page).toHaveURL(ORDER_URL);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Thank you for your order");
  const ref = page.getByTestId("order-reference");
  await expect(ref).toHaveCount(1);
  await expect(ref).toHaveText(REFERENCE);
  await expect(page.getByTestId("order-status")).toHaveText("paid");
  await expect(page.getByTestId("order-total")).toHaveText(total);
  const rows = page.locator("table tbody tr");
  await expect(rows).toHaveCount(names.length);
  // The lines come sorted by name (app/src/storage/orders.rs).
  await expect(rows.locator("td:first-child")).toHaveText([...names].sort());
  const reference = (await ref.textContent())!.trim();
  await expect(page).toHaveTitle(`Order ${reference} · Copperleaf`);
  return reference;
}

/** Rows of /account/orders (the page must be loaded). */
function orderRows(page: Page): Locator {
  return page.locator("table tbody tr");
}

/** Buys `quantity` of `p` in a separate browser context (another shopper). */
async function otherShopperBuys(browser: Browser, baseURL: string | undefined, p: Product, quantity: number) {
  const other = await browser.newContext({ baseURL });
  try {
    const page = await other.newPage();
    await page.goto(`/p/${p.slug}`);
    await hydrated(page);
    const qty = page.getByLabel("Quantity", { exact: true });
    await qty.fill(String(quantity));
    await expect(qty).toHaveValue(String(quantity));
    await apiCall(page, "cart/add", () => page.locator("form.buy-form").getByRole("button", { name: "Add to cart" }).click());
    await expect(badge(page)).toHaveText(String(quantity));
    await page.goto("/checkout");
    await hydrated(page);
    const total = await checkoutTotal(page, p.priceCents * quantity);
    await fillCheckout(page, uniqueEmail("other"));
    await apiCall(page, "checkout/place", () => placeButton(page).click());
    await expectConfirmation(page, [p.name], total);
  } finally {
    await other.close();
  }
}

test("a guest buys two products end to end", async ({ page, browser, baseURL }) => {
  const [a, b] = await kitchenProducts(page, 2);
  await hydrated(page);
  await expect(badge(page)).toHaveText("0");
  await apiCall(page, "cart/add", () => addButton(page, a).click());
  await apiCall(page, "cart/add", () => addButton(page, b).click());
  await expect(badge(page)).toHaveText("2");
  await expect.poll(() => savedLines(page)).toEqual([`${a.id}:1`, `${b.id}:1`]);

  await page.goto("/cart");
  await hydrated(page);
  await expect(page.locator("li.cart-line")).toHaveCount(2);
  await page.getByRole("link", { name: "Check out", exact: true }).click();
  await expect(page).toHaveURL(/\/checkout$/);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Checkout");
  await expect(page).toHaveTitle("Checkout · Copperleaf");
  const total = await checkoutTotal(page, a.priceCents + b.priceCents);
  const summary = page.locator("ul.order-lines > li");
  await expect(summary).toHaveCount(2);
  await expect(summary.filter({ hasText: `${a.name} × 1` })).toHaveCount(1);
  await expect(summary.filter({ hasText: `${b.name} × 1` })).toHaveCount(1);
  // A guest's email field starts empty; nothing blocks the order.
  await expect(page.locator("#email")).toHaveValue("");
  await expect(page.getByRole("link", { name: "Review your cart" })).toHaveCount(0);
  await expect(placeButton(page)).toBeEnabled();

  await fillCheckout(page, "ann.lee@example.com");
  const res = await apiCall(page, "checkout/place", () => placeButton(page).click());
  const placed = (await res.json()) as { url: string; created: boolean; order: { id: string; reference: string } };
  expect(placed.created).toBe(true);

  const reference = await expectConfirmation(page, [a.name, b.name], total);
  expect(reference).toBe(placed.order.reference);
  expect(new URL(page.url()).pathname).toBe(`/orders/${placed.order.id}`);
  await expect(page.locator(".lede")).toContainText("A receipt goes to ann.lee@example.com.");
  const shipTo = page.locator("address");
  await expect(shipTo).toContainText(ADDRESS.name);
  await expect(shipTo).toContainText(ADDRESS.line1);
  await expect(shipTo).toContainText(ADDRESS.line2);
  await expect(shipTo).toContainText(`${ADDRESS.postcode} ${ADDRESS.city}`);
  await expect(shipTo).toContainText("United Kingdom");

  // The cart is empty now, here and in the browser's copy.
  await expect(badge(page)).toHaveText("0");
  await expect.poll(async () => (await savedLines(page)) ?? []).toEqual([]);

  // Reloading the confirmation still shows the order (same session).
  await page.reload();
  await hydrated(page);
  expect(await expectConfirmation(page, [a.name, b.name], total)).toBe(reference);
  await expect(badge(page)).toHaveText("0");
  // The session alone is enough: the address without its key works too.
  await page.goto(`/orders/${placed.order.id}`);
  expect(await expectConfirmation(page, [a.name, b.name], total)).toBe(reference);

  await page.goto("/cart");
  await hydrated(page);
  await expect(page.getByRole("heading", { name: "Your cart is empty" })).toBeVisible();
  await expect(page.locator("li.cart-line")).toHaveCount(0);
  await expect(badge(page)).toHaveText("0");
  // Nothing is restored from the browser's copy on a fresh load.
  await page.waitForTimeout(500);
  await expect(badge(page)).toHaveText("0");
  expect((await savedLines(page)) ?? []).toEqual([]);
  const html = await (await page.request.get("/cart")).text();
  expect(html).toContain("Your cart is empty");

  // Checkout has nothing left to order.
  await page.goto("/checkout");
  await hydrated(page);
  await expect(page.getByRole("alert")).toContainText("Your cart is empty.");
  await expect(page.getByRole("link", { name: "Review your cart" })).toBeVisible();
  await expect(placeButton(page)).toBeDisabled();
  await expect(page.locator("ul.order-lines > li")).toHaveCount(0);

  // Someone else cannot open the order without its key, but can with it.
  const other = await browser.newContext({ baseURL });
  try {
    const stranger = await other.newPage();
    await stranger.goto(`/orders/${placed.order.id}`);
    await expect(stranger.getByText("We could not find that order.")).toBeVisible();
    await expect(stranger.getByTestId("order-reference")).toHaveCount(0);
    await stranger.goto(placed.url);
    expect(await expectConfirmation(stranger, [a.name, b.name], total)).toBe(reference);
  } finally {
    await other.close();
  }
});

test("a signed-in customer buys and finds the order in their history", async ({ page }) => {
  const email = uniqueEmail("buyer");
  const [a] = await kitchenProducts(page, 1);
  await registerViaApi(page, email);
  await page.reload();
  await hydrated(page);
  await apiCall(page, "cart/add", () => addButton(page, a).click());
  await apiCall(page, "cart/add", () => addButton(page, a).click());
  await expect(badge(page)).toHaveText("2");

  // No orders yet.
  await page.goto("/account/orders");
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Your orders");
  await expect(page.getByText("No orders yet.")).toBeVisible();

  await page.goto("/cart");
  await hydrated(page);
  await page.getByRole("link", { name: "Check out", exact: true }).click();
  await expect(page).toHaveURL(/\/checkout$/);
  const total = await checkoutTotal(page, a.priceCents * 2);
  await expect(page.locator("#email")).toHaveValue(email);
  await fillCheckout(page, undefined);
  await apiCall(page, "checkout/place", () => placeButton(page).click());
  const reference = await expectConfirmation(page, [a.name], total);
  await expect(page.locator(".lede")).toContainText(`A receipt goes to ${email}.`);
  await expect(page.locator("table tbody tr td.num").nth(1)).toHaveText("2");
  await expect(badge(page)).toHaveText("0");
  const orderPath = new URL(page.url()).pathname;

  await page.goto("/account/orders");
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Your orders");
  await expect(orderRows(page)).toHaveCount(1);
  const row = orderRows(page).first();
  const link = row.getByRole("link", { name: reference, exact: true });
  await expect(link).toHaveAttribute("href", orderPath);
  await expect(row.locator("td").nth(1)).toHaveText("paid");
  await expect(row.locator("td").nth(2)).toHaveText("2");
  await expect(row.locator("td").nth(3)).toHaveText(total);

  await link.click();
  await expect(page).toHaveURL((url) => url.pathname === orderPath);
  // The account owns the order: no key needed.
  expect(await expectConfirmation(page, [a.name], total)).toBe(reference);
  await page.reload();
  expect(await expectConfirmation(page, [a.name], total)).toBe(reference);
});

test("sold-out products cannot be added to the cart", async ({ page }) => {
  const p = await findListed(page, "out");
  const listingUrl = page.url();
  await hydrated(page);
  const soldOut = page.getByRole("button", { name: `Sold out: ${p.name}`, exact: true });
  await expect(soldOut).toBeVisible();
  await expect(soldOut).toHaveText("Sold out");
  await expect(soldOut).toBeDisabled();
  await expect(addButton(page, p)).toHaveCount(0);

  await page.goto(`/p/${p.slug}`);
  await hydrated(page);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText(p.name);
  await expect(page.locator(".product .stock.out")).toHaveText("Sold out");
  const buy = page.locator("form.buy-form").getByRole("button", { name: "Sold out", exact: true });
  await expect(buy).toBeDisabled();
  await expect(page.locator("form.buy-form").getByRole("button", { name: "Add to cart" })).toHaveCount(0);
  await expect(page.getByLabel("Quantity", { exact: true })).toBeDisabled();

  // The server refuses it as well.
  const res = await page.request.post("/api/cart/add", { form: { product_id: String(p.id), quantity: "1" } });
  expect(res.status()).toBe(422);
  const body = (await res.json()) as { error: string; message: string };
  expect(body.error).toBe("invalid");
  expect(body.message).toBe(`${p.name} is sold out.`);

  // Nothing landed in the cart.
  await page.goto("/cart");
  await expect(page.getByRole("heading", { name: "Your cart is empty" })).toBeVisible();
  await expect(badge(page)).toHaveText("0");
  // The listing still shows it as sold out.
  await page.goto(listingUrl);
  await expect(page.getByRole("button", { name: `Sold out: ${p.name}`, exact: true })).toBeDisabled();
});

test("a product sold out by another shopper before checkout cannot be ordered", async ({ page, browser, baseURL }) => {
  // A low-stock product ("Only N left"), not the first one (cart.spec.ts uses that).
  const p = await findListed(page, "low", 1);
  await page.goto(`/p/${p.slug}`);
  await hydrated(page);
  const stock = Number(/Only (\d+) left/.exec((await page.locator(".product .stock.low").textContent())!)![1]);
  expect(stock).toBeGreaterThanOrEqual(1);
  expect(stock).toBeLessThanOrEqual(5);
  await apiCall(page, "cart/add", () => page.locator("form.buy-form").getByRole("button", { name: "Add to cart" }).click());
  await expect(badge(page)).toHaveText("1");

  // This shopper opens checkout and fills the form...
  await page.goto("/checkout");
  await hydrated(page);
  await checkoutTotal(page, p.priceCents);
  await expect(placeButton(page)).toBeEnabled();
  await fillCheckout(page, "slow@example.com");

  // ...while another shopper buys every unit left.
  await otherShopperBuys(browser, baseURL, p, stock);

  // Placing the order now fails with the reason, and no order is made.
  const res = await apiCall(page, "checkout/place", () => placeButton(page).click(), 409);
  expect(((await res.json()) as { message: string }).message).toContain(`${p.name} is sold out`);
  await expect(page.getByRole("alert")).toContainText(`${p.name} is sold out`);
  await expect(page).toHaveURL(/\/checkout$/);
  await expect(page.getByTestId("order-reference")).toHaveCount(0);

  // A fresh checkout page says what blocks it and will not submit.
  await page.reload();
  await hydrated(page);
  const problems = page.getByRole("alert").filter({ has: page.getByRole("link", { name: "Review your cart" }) });
  await expect(problems).toContainText(`${p.name} is sold out: remove it to check out.`);
  await expect(placeButton(page)).toBeDisabled();

  // The cart keeps the line but offers no way to check out.
  await problems.getByRole("link", { name: "Review your cart" }).click();
  await expect(page).toHaveURL(/\/cart$/);
  await expect(page.locator(`li.cart-line[data-product-id="${p.id}"]`)).toHaveCount(1);
  await expect(page.getByText("Some items are unavailable in the quantity you chose.")).toBeVisible();
  await expect(page.getByRole("link", { name: "Check out", exact: true })).toHaveCount(0);

  // And the product is sold out for everyone now.
  await page.goto(`/p/${p.slug}`);
  await expect(page.locator(".product .stock.out")).toHaveText("Sold out");
  await expect(page.locator("form.buy-form").getByRole("button", { name: "Sold out", exact: true })).toBeDisabled();
});

test("clicking Place order twice makes one order", async ({ page }) => {
  const email = uniqueEmail("double");
  const [a] = await kitchenProducts(page, 1);
  await registerViaApi(page, email);
  await page.reload();
  await hydrated(page);
  await apiCall(page, "cart/add", () => addButton(page, a).click());
  await expect(badge(page)).toHaveText("1");

  await page.goto("/checkout");
  await hydrated(page);
  const total = await checkoutTotal(page, a.priceCents);
  await fillCheckout(page, undefined);
  const places: string[] = [];
  page.on("request", (r) => {
    if (new URL(r.url()).pathname === "/api/checkout/place") places.push(r.postData() ?? "");
  });
  const answered = page.waitForResponse((r) => new URL(r.url()).pathname === "/api/checkout/place");
  // Two clicks in the same task, before anything can re-render.
  await placeButton(page).evaluate((button: HTMLButtonElement) => {
    button.click();
    button.click();
  });
  expect((await answered).status()).toBe(200);
  const reference = await expectConfirmation(page, [a.name], total);
  await page.waitForTimeout(500);
  // Any request sent carries the same idempotency key.
  expect(places.length).toBeGreaterThanOrEqual(1);
  expect(new Set(places.map((body) => new URLSearchParams(body).get("idempotency_key"))).size).toBe(1);

  await page.goto("/account/orders");
  await expect(orderRows(page)).toHaveCount(1);
  await expect(orderRows(page).first().getByRole("link")).toHaveText(reference);
});

test("the same checkout form posted twice at once makes one order", async ({ page }) => {
  const email = uniqueEmail("replay");
  const [a] = await kitchenProducts(page, 1);
  await registerViaApi(page, email);
  const added = await page.request.post("/api/cart/add", { form: { product_id: String(a.id), quantity: "1" } });
  expect(added.status()).toBe(200);

  // The key the server put in the form.
  await page.goto("/checkout");
  const key = await page.locator("input[type=hidden][name=idempotency_key]").inputValue();
  expect(key).toMatch(/^[0-9a-f-]{36}$/);
  // What the shopper confirms: this cart at these prices.
  const quote = await page.locator("input[type=hidden][name=quote]").inputValue();
  const form = {
    idempotency_key: key,
    quote,
    email,
    name: ADDRESS.name,
    line1: ADDRESS.line1,
    line2: ADDRESS.line2,
    city: ADDRESS.city,
    postcode: ADDRESS.postcode,
    country: ADDRESS.country,
  };
  const [r1, r2] = await Promise.all([
    page.request.post("/api/checkout/place", { form }),
    page.request.post("/api/checkout/place", { form }),
  ]);
  expect(r1.status(), await r1.text()).toBe(200);
  expect(r2.status(), await r2.text()).toBe(200);
  type Placed = { url: string; created: boolean; order: { id: string; reference: string } };
  const [p1, p2] = [(await r1.json()) as Placed, (await r2.json()) as Placed];
  expect(p1.order.id).toBe(p2.order.id);
  expect(p1.url).toBe(p2.url);
  expect([p1.created, p2.created].sort()).toEqual([false, true]);

  // The same key with other contents is refused.
  const r3 = await page.request.post("/api/checkout/place", { form: { ...form, name: "Someone Else" } });
  expect(r3.status()).toBe(409);
  expect(((await r3.json()) as { message: string }).message).toContain("already used for a different order");

  await page.goto("/account/orders");
  await expect(orderRows(page)).toHaveCount(1);
  await expect(orderRows(page).first().getByRole("link")).toHaveText(p1.order.reference);
  await page.goto(p1.url);
  const shipping = a.priceCents >= FREE_SHIPPING_FROM_CENTS ? 0 : FLAT_SHIPPING_CENTS;
  const total = (await page.getByTestId("order-total").textContent())!;
  expect(cents(total)).toBe(a.priceCents + shipping);
  expect(await expectConfirmation(page, [a.name], total)).toBe(p1.order.reference);
  await expect(badge(page)).toHaveText("0");
});

test("a price that changes before Place order is shown and confirmed, never charged unseen", async ({ page }) => {
  await page.goto("/c/office");
  const [p] = await listed(page, "in");
  await addButton(page, p).click();
  await expect(badge(page)).toHaveText("1");
  await page.goto("/checkout");
  await hydrated(page);
  await fillCheckout(page, uniqueEmail("price"));
  // The total for the address (its shipping and tax), at today's price: what the shopper sees.
  const shown = await checkoutTotal(page, p.priceCents);
  // The shop raises the price after that, before the shopper clicks. (Raised before the form is
  // filled, the price could reach the page with the address's new total, and the shopper would
  // then confirm the new price: the server follows other processes' edits within two seconds.)
  const raised = p.priceCents + 250;
  serverCommand(["catalog", "set-price", p.slug, (raised / 100).toFixed(2)]);
  try {
    const refused = page.waitForResponse((r) => new URL(r.url()).pathname === "/api/checkout/place");
    await placeButton(page).click();
    expect((await refused).status()).toBe(409);
    await expect(page.getByRole("alert").filter({ hasText: "prices changed" })).toBeVisible();
    // The page now shows what the order costs; nothing was ordered at the old price.
    const shipping = raised >= FREE_SHIPPING_FROM_CENTS ? 0 : FLAT_SHIPPING_CENTS;
    await expect
      .poll(async () => cents((await page.getByTestId("checkout-total").textContent()) ?? ""))
      .toBe(raised + shipping);
    const now = await checkoutTotal(page, raised);
    expect(now).not.toBe(shown);
    await fillCheckout(page, uniqueEmail("price"));
    await placeButton(page).click();
    await expect(page).toHaveURL(ORDER_URL);
    await expect(page.getByTestId("order-total")).toHaveText(now);
  } finally {
    serverCommand(["catalog", "set-price", p.slug, (p.priceCents / 100).toFixed(2)]);
  }
});

test.describe("without JavaScript", () => {
  test.use({ javaScriptEnabled: false });

  test("checkout through the plain form; a bad email comes back with the error", async ({ page }) => {
    const [a] = await kitchenProducts(page, 1);
    await expect(page.locator("html[data-hydrated]")).toHaveCount(0);
    await addButton(page, a).click();
    await expect(page).toHaveURL(/\/c\/kitchen$/);
    await expect(page.locator(".notices .notice-ok")).toHaveText("Added to your cart.");
    await expect(badge(page)).toHaveText("1");

    await page.goto("/checkout");
    const total = await checkoutTotal(page, a.priceCents);
    const firstKey = await page.locator("input[name=idempotency_key]").inputValue();

    // An email the browser would refuse: let it through as plain text, the server says no.
    await page.locator("#email").evaluate((el: HTMLInputElement) => (el.type = "text"));
    await fillCheckout(page, "not-an-email");
    await placeButton(page).click();
    await expect(page).toHaveURL(/\/checkout$/);
    await expect(page.locator(".notices .notice-error")).toHaveText("Enter an email address like name@example.com.");
    await expect(page.getByTestId("order-reference")).toHaveCount(0);
    await expect(badge(page)).toHaveText("1");

    // A missing required field, with `required` lifted: the server says which.
    await fillCheckout(page, "ann@example.com", { ...ADDRESS, name: "" });
    await page.locator("#name").evaluate((el: HTMLInputElement) => el.removeAttribute("required"));
    await placeButton(page).click();
    await expect(page).toHaveURL(/\/checkout$/);
    await expect(page.locator(".notices .notice-error")).toHaveText("Enter your full name.");

    await page.goto("/cart");
    await expect(page.locator(`li.cart-line[data-product-id="${a.id}"]`)).toHaveCount(1);
    await expect(badge(page)).toHaveText("1");

    // Now properly: the 303 lands on the confirmation.
    await page.goto("/checkout");
    expect(await checkoutTotal(page, a.priceCents)).toBe(total);
    expect(await page.locator("input[name=idempotency_key]").inputValue()).not.toBe(firstKey);
    await fillCheckout(page, "ann@example.com");
    const redirect = page.waitForResponse(
      (r) => new URL(r.url()).pathname === "/api/checkout/place" && r.request().method() === "POST",
    );
    await placeButton(page).click();
    const res = await redirect;
    expect(res.status()).toBe(303);
    expect(res.headers()["location"]).toMatch(/^\/orders\/[0-9a-f-]{36}\?key=[0-9a-f]{32}$/);
    await expectConfirmation(page, [a.name], total);
    await expect(page.locator(".notices .notice-error")).toHaveCount(0);
    await expect(badge(page)).toHaveText("0");

    await page.goto("/cart");
    await expect(page.getByRole("heading", { name: "Your cart is empty" })).toBeVisible();
    await expect(badge(page)).toHaveText("0");
  });

  test("a plain form submitted twice makes one order", async ({ page, context }) => {
    const email = uniqueEmail("nojs-double");
    const [a] = await kitchenProducts(page, 1);
    await registerViaApi(page, email);
    await page.reload();
    await addButton(page, a).click();
    await expect(badge(page)).toHaveText("1");

    await page.goto("/checkout");
    await expect(page.locator("#email")).toHaveValue(email);
    const total = await checkoutTotal(page, a.priceCents);
    await fillCheckout(page, undefined);
    const places: { status: number; location: string }[] = [];
    context.on("response", (r) => {
      if (new URL(r.url()).pathname === "/api/checkout/place") {
        places.push({ status: r.status(), location: r.headers()["location"] ?? "" });
      }
    });
    // No script guards the form here. Submit it twice, the first time into a new tab so that
    // the second submission cannot cancel it: the browser really sends both posts, with the
    // same idempotency key.
    const popup = context.waitForEvent("page");
    await page.locator("form[action='/api/checkout/place']").evaluate((form: HTMLFormElement) => {
      form.target = "_blank";
      form.submit();
      form.target = "";
      form.submit();
    });
    const other = await popup;
    const reference = await expectConfirmation(page, [a.name], total);
    expect(await expectConfirmation(other, [a.name], total)).toBe(reference);
    await expect.poll(() => places.length).toBe(2);
    expect(places.map((p) => p.status)).toEqual([303, 303]);
    expect(places[0].location).toMatch(/^\/orders\//);
    expect(places[1].location).toBe(places[0].location);
    await other.close();

    await page.goto("/account/orders");
    await expect(orderRows(page)).toHaveCount(1);
    await expect(orderRows(page).first().getByRole("link")).toHaveText(reference);
    await page.goto("/cart");
    await expect(page.getByRole("heading", { name: "Your cart is empty" })).toBeVisible();
  });
});

test("checkout validation: the browser and the server stop bad input", async ({ page }) => {
  const email = uniqueEmail("valid");
  const [a] = await kitchenProducts(page, 1);
  await registerViaApi(page, email);
  await page.reload();
  await hydrated(page);
  await apiCall(page, "cart/add", () => addButton(page, a).click());
  await expect(badge(page)).toHaveText("1");

  await page.goto("/checkout");
  await hydrated(page);
  await checkoutTotal(page, a.priceCents);
  const places: string[] = [];
  page.on("request", (r) => {
    if (new URL(r.url()).pathname === "/api/checkout/place") places.push(r.url());
  });

  // An empty required field: the browser does not submit.
  await fillCheckout(page, undefined, { ...ADDRESS, city: "" });
  await placeButton(page).click();
  expect(await page.locator("#city").evaluate((el: HTMLInputElement) => el.validity.valueMissing)).toBe(true);
  await page.waitForTimeout(300);
  expect(places, "nothing is posted with an empty required field").toEqual([]);
  await expect(page).toHaveURL(/\/checkout$/);

  // A postcode with markup: the server refuses it, and shows it as text.
  await fillCheckout(page, undefined, { ...ADDRESS, postcode: "<script>" });
  await apiCall(page, "checkout/place", () => placeButton(page).click(), 422);
  const alert = page.getByRole("alert");
  await expect(alert).toHaveCount(1);
  await expect(alert).toHaveText("A postcode has only letters, digits, spaces and dashes.");
  await expect(page).toHaveURL(/\/checkout$/);
  await expect(page.getByTestId("order-reference")).toHaveCount(0);
  await expect(placeButton(page)).toBeEnabled();

  // An empty required field with `required` lifted: the server names it.
  await fillCheckout(page, undefined, { ...ADDRESS, line1: "   " });
  await apiCall(page, "checkout/place", () => placeButton(page).click(), 422);
  await expect(alert).toHaveText("Enter the street address.");
  await expect(badge(page)).toHaveText("1");

  // No order was made.
  await page.goto("/account/orders");
  await expect(page.getByText("No orders yet.")).toBeVisible();
  await expect(orderRows(page)).toHaveCount(0);
  // And a good postcode then goes through.
  await page.goto("/checkout");
  await hydrated(page);
  const total = await checkoutTotal(page, a.priceCents);
  await fillCheckout(page, undefined);
  await apiCall(page, "checkout/place", () => placeButton(page).click());
  await expectConfirmation(page, [a.name], total);
});
