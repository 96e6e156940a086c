import { test, expect, Page, Locator } from "@playwright/test";
import { hydrated, cents, Product, uniqueEmail, kitchenProducts, apiCall } from "./helpers";

/** The browser's backup copy of the cart (app/src/client/local_cart.rs). */
const CART_KEY = "copperleaf.cart.v1";
const PASSWORD = "correct horse battery";
/** app/src/services/auth.rs: the one answer to any failed sign-in. */
const WRONG = "That email and password do not match an account.";

function badge(page: Page): Locator {
  return page.getByTestId("cart-count");
}

/** The header's "Sign in" / "Account" link. */
function accountLink(page: Page, name: "Sign in" | "Account"): Locator {
  return page.getByRole("navigation", { name: "Your shopping" }).getByRole("link", { name, exact: true });
}

function line(page: Page, p: Product): Locator {
  return page.locator(`li.cart-line[data-product-id="${p.id}"]`);
}

function qtyInput(page: Page, p: Product): Locator {
  return line(page, p).locator("input[type=number][name=quantity]");
}

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
    const total = cents((await l.locator(".line-total").textContent())!);
    expect(total, `line total of ${p.name}`).toBe(p.priceCents * q);
    sum += total;
  }
  const count = expected.reduce((n, [, q]) => n + q, 0);
  await expect(page.getByTestId("cart-items")).toHaveText(String(count));
  await expect(badge(page)).toHaveText(String(count));
  expect(cents((await page.getByTestId("cart-subtotal").textContent())!)).toBe(sum);
}

async function expectEmptyCartPage(page: Page) {
  await expect(page.getByRole("heading", { name: "Your cart is empty" })).toBeVisible();
  await expect(page.locator("li.cart-line")).toHaveCount(0);
  await expect(badge(page)).toHaveText("0");
}

/** Lines of the saved copy as sorted `id:quantity` strings, or null when there is none. */
async function savedLines(page: Page): Promise<string[] | null> {
  const raw = await page.evaluate((key) => window.localStorage.getItem(key), CART_KEY);
  if (raw === null) return null;
  const saved = JSON.parse(raw) as { lines: { product_id: number; quantity: number }[] };
  return saved.lines.map((l) => `${l.product_id}:${l.quantity}`).sort();
}

function linesOf(expected: [Product, number][]): string[] {
  return expected.map(([p, q]) => `${p.id}:${q}`).sort();
}

/** Creates an account through the API from this page's context, which is then signed in. */
async function registerViaApi(page: Page, email: string, password = PASSWORD) {
  const res = await page.request.post("/api/auth/register", { form: { email, password } });
  expect(res.status(), `register ${email}: ${await res.text()}`).toBe(200);
}

/** URL matchers on the path alone ("/login?next=/account" also ends in "/account"). */
const at = (path: string) => (url: URL) => url.pathname === path;
const HOME = at("/");
const ACCOUNT = at("/account");

/** Asks the server who is signed in (`/api/auth/me`, a server function). */
async function whoAmI(page: Page): Promise<string | null> {
  const res = await page.request.post("/api/auth/me", { form: {} });
  expect(res.status(), "/api/auth/me").toBe(200);
  const user = (await res.json()) as { email: string } | null;
  return user?.email ?? null;
}

/** Signs in through the sign-in form the page is on (with JavaScript); lands on /account. */
async function signInThroughForm(page: Page, email: string, password = PASSWORD, expectedUrl = ACCOUNT) {
  await expect(page).toHaveURL(at("/login"));
  await hydrated(page);
  await page.locator("#email").fill(email);
  await page.locator("#password").fill(password);
  await apiCall(page, "auth/login", () => page.getByRole("button", { name: "Sign in", exact: true }).click());
  await expect(page).toHaveURL(expectedUrl);
}

test("the guest cart is merged into the account's cart at sign-in", async ({ page, browser, baseURL }) => {
  // Account A already holds P1 × 1, put there from another browser.
  const email = uniqueEmail("merge");
  const other = await browser.newContext({ baseURL });
  try {
    const pageA = await other.newPage();
    await registerViaApi(pageA, email);
    const [p1] = await kitchenProducts(pageA, 1);
    await hydrated(pageA);
    await expect(accountLink(pageA, "Account")).toBeVisible();
    await apiCall(pageA, "cart/add", () => addButton(pageA, p1).click());
    await expect(badge(pageA)).toHaveText("1");
  } finally {
    await other.close();
  }

  // Here, as a guest: P1 and P2 once each.
  const [p1, p2] = await kitchenProducts(page, 2);
  await hydrated(page);
  await expect(accountLink(page, "Sign in")).toBeVisible();
  await expect(badge(page)).toHaveText("0");
  await apiCall(page, "cart/add", () => addButton(page, p1).click());
  await apiCall(page, "cart/add", () => addButton(page, p2).click());
  await expect(badge(page)).toHaveText("2");
  await expect.poll(() => savedLines(page)).toEqual(linesOf([[p1, 1], [p2, 1]]));

  await page.goto("/login");
  await signInThroughForm(page, email);
  await expect(accountLink(page, "Account")).toBeVisible();
  await expect(page.getByText(`Signed in as ${email}`)).toBeVisible();
  await expect(badge(page)).toHaveText("3");
  const notice = page.locator(".notices .notice").filter({ hasText: "We moved your guest cart into your account" });
  await expect(notice).toHaveCount(1);
  await expect(notice).toBeVisible();
  await expect(notice).toContainText(p1.name);
  await expect(notice).toContainText(p2.name);
  // The browser's copy is now the merged account cart.
  await expect.poll(() => savedLines(page)).toEqual(linesOf([[p1, 2], [p2, 1]]));

  await page.goto("/cart");
  await hydrated(page);
  await expectCartPage(page, [
    [p1, 2],
    [p2, 1],
  ]);
  await expect.poll(() => savedLines(page)).toEqual(linesOf([[p1, 2], [p2, 1]]));
});

test("two browsers signed in as the same account share one cart", async ({ page, browser, baseURL }) => {
  const email = uniqueEmail("shared");
  const [a, b] = await kitchenProducts(page, 2);
  await registerViaApi(page, email);
  await page.reload();
  await hydrated(page);
  await expect(accountLink(page, "Account")).toBeVisible();
  await apiCall(page, "cart/add", () => addButton(page, a).click());
  await apiCall(page, "cart/add", () => addButton(page, a).click());
  await apiCall(page, "cart/add", () => addButton(page, b).click());
  await expect(badge(page)).toHaveText("3");

  const other = await browser.newContext({ baseURL });
  try {
    const page2 = await other.newPage();
    await page2.goto("/login");
    await expect(badge(page2)).toHaveText("0");
    await signInThroughForm(page2, email);
    await expect(badge(page2)).toHaveText("3");
    // Nothing to merge from an empty guest cart.
    await expect(page2.locator(".notices")).not.toContainText("We moved your guest cart");

    await page.goto("/cart");
    await hydrated(page);
    await expectCartPage(page, [
      [a, 2],
      [b, 1],
    ]);
    await page2.goto("/cart");
    await hydrated(page2);
    await expectCartPage(page2, [
      [a, 2],
      [b, 1],
    ]);

    // Removed in the first browser: gone in the second after a reload.
    await apiCall(page, "cart/remove", () =>
      page.getByRole("button", { name: `Remove ${b.name} from cart`, exact: true }).click(),
    );
    await expectCartPage(page, [[a, 2]]);
    await page2.reload();
    await hydrated(page2);
    await expectCartPage(page2, [[a, 2]]);

    // And the other way round: a quantity changed in the second shows in the first.
    await qtyInput(page2, a).fill("3");
    await apiCall(page2, "cart/set", () => line(page2, a).getByRole("button", { name: "Update" }).click());
    await expectCartPage(page2, [[a, 3]]);
    await page.reload();
    await hydrated(page);
    await expectCartPage(page, [[a, 3]]);
  } finally {
    await other.close();
  }
});

/** Registers through the API, adds `p` once and opens /account through the header link. */
async function signedInWithCartOnAccountPage(page: Page, email: string): Promise<Product> {
  const [a] = await kitchenProducts(page, 1);
  await registerViaApi(page, email);
  await page.reload();
  await hydrated(page);
  await expect(accountLink(page, "Account")).toBeVisible();
  await apiCall(page, "cart/add", () => addButton(page, a).click());
  await expect(badge(page)).toHaveText("1");
  await expect.poll(() => savedLines(page)).toEqual(linesOf([[a, 1]]));
  // Through the header link, a client-side navigation (loading /account directly has its own test).
  await accountLink(page, "Account").click();
  await expect(page).toHaveURL(ACCOUNT);
  await expect(page.getByText(`Signed in as ${email}`)).toBeVisible();
  return a;
}

/** The saved copy's lines, with "no copy at all" counted as no lines. */
async function savedLinesOrNone(page: Page): Promise<string[]> {
  return (await savedLines(page)) ?? [];
}

test("signing out empties the cart here and forgets the browser's copy", async ({ page }) => {
  const email = uniqueEmail("signout");
  const a = await signedInWithCartOnAccountPage(page, email);

  await apiCall(page, "auth/logout", () => page.getByRole("button", { name: "Sign out", exact: true }).click());
  // (Where the page lands is checked by "signing out from /account lands on the home page".)
  await expect(accountLink(page, "Sign in")).toBeVisible();
  await expect(accountLink(page, "Account")).toHaveCount(0);
  await expect(badge(page)).toHaveText("0");
  await expect(page.locator(".notices")).toContainText("You are signed out.");
  await expect.poll(() => savedLinesOrNone(page), { message: "saved lines after signing out" }).toEqual([]);
  expect(await whoAmI(page)).toBeNull();

  // A fresh page load: a guest with an empty cart, and still no lines in the browser's copy.
  await page.goto("/cart");
  await hydrated(page);
  await expectEmptyCartPage(page);
  await expect(accountLink(page, "Sign in")).toBeVisible();
  expect(await savedLinesOrNone(page), "saved lines on /cart after signing out").toEqual([]);
  // The server agrees: the session is a guest's with an empty cart.
  const html = await (await page.request.get("/cart")).text();
  expect(html).toContain("Your cart is empty");
  // No cart line for it (it may still be recommended further down the page).
  expect(html).not.toMatch(new RegExp(`<li[^>]*data-product-id="${a.id}"[^>]*class="cart-line"`));
  expect(html).not.toMatch(/class="cart-line"/);
  // And /account is closed again.
  await page.goto("/account");
  await expect(page).toHaveURL(/\/login\?next=\/account$/);
});

// Regression: signing out on /account once re-rendered the page's "signed out" redirect to
// /login before the move to the home page took effect.
test("signing out from /account lands on the home page", async ({ page }) => {
  await signedInWithCartOnAccountPage(page, uniqueEmail("signout-home"));
  await apiCall(page, "auth/logout", () => page.getByRole("button", { name: "Sign out", exact: true }).click());
  await expect(page).toHaveURL(HOME);
  await expect(accountLink(page, "Sign in")).toBeVisible();
  await expect(badge(page)).toHaveText("0");
  await expect(page.locator(".notices")).toContainText("You are signed out.");
  // And it stays there.
  await page.waitForTimeout(1_000);
  await expect(page).toHaveURL(HOME);
});

test("a failed sign-in says one generic thing; a short password is refused", async ({ page, browser, baseURL }) => {
  const email = uniqueEmail("wrong");
  const setup = await browser.newContext({ baseURL });
  try {
    await registerViaApi(await setup.newPage(), email);
  } finally {
    await setup.close();
  }

  await page.goto("/login");
  await hydrated(page);
  await page.locator("#email").fill(email);
  await page.locator("#password").fill("not the password");
  await apiCall(page, "auth/login", () => page.getByRole("button", { name: "Sign in", exact: true }).click(), 401);
  await expect(page.getByRole("alert")).toHaveCount(1);
  await expect(page.getByRole("alert")).toHaveText(WRONG);
  await expect(page).toHaveURL(at("/login"));
  await expect(accountLink(page, "Sign in")).toBeVisible();

  // An unknown email: exactly the same message.
  await page.locator("#email").fill(uniqueEmail("nobody"));
  await page.locator("#password").fill(PASSWORD);
  await apiCall(page, "auth/login", () => page.getByRole("button", { name: "Sign in", exact: true }).click(), 401);
  await expect(page.getByRole("alert")).toHaveCount(1);
  await expect(page.getByRole("alert")).toHaveText(WRONG);
  await expect(page).toHaveURL(at("/login"));
  // Still signed out on the server.
  expect(await whoAmI(page)).toBeNull();

  // Registering with a 7-character password.
  await page.goto("/register");
  await hydrated(page);
  await page.locator("#email").fill(uniqueEmail("short"));
  await page.locator("#password").fill("1234567");
  await apiCall(
    page,
    "auth/register",
    () => page.getByRole("button", { name: "Create account", exact: true }).click(),
    422,
  );
  await expect(page.getByRole("alert")).toHaveCount(1);
  await expect(page.getByRole("alert")).toHaveText("Passwords are 8 to 128 characters long.");
  await expect(page).toHaveURL(at("/register"));
  expect(await whoAmI(page)).toBeNull();
  await expect(accountLink(page, "Sign in")).toBeVisible();
});

test.describe("without JavaScript", () => {
  test.use({ javaScriptEnabled: false });

  // Regression: GET /account once raced the page-load account lookup and redirected signed-in
  // customers to the sign-in form (see "a signed-in visitor can load /account directly").
  test("register, sign out and sign in through the plain forms", async ({ page }) => {
    const email = uniqueEmail("nojs");
    await page.goto("/register");
    await expect(page.locator("html[data-hydrated]")).toHaveCount(0);
    await page.locator("#email").fill(email);
    await page.locator("#password").fill(PASSWORD);
    await page.getByRole("button", { name: "Create account", exact: true }).click();
    await expect(page).toHaveURL(ACCOUNT);
    await expect(page.getByRole("heading", { level: 1 })).toHaveText("Your account");
    await expect(page.getByText(`Signed in as ${email}`)).toBeVisible();
    await expect(page.locator(".notices .notice-ok")).toHaveText("Welcome to Copperleaf. Your account is ready.");
    await expect(accountLink(page, "Account")).toBeVisible();

    await page.getByRole("button", { name: "Sign out", exact: true }).click();
    await expect(page).toHaveURL(HOME);
    await expect(page.locator(".notices .notice-ok")).toHaveText("You are signed out.");
    await expect(accountLink(page, "Sign in")).toBeVisible();
    await expect(badge(page)).toHaveText("0");

    await page.goto("/login");
    await page.locator("#email").fill(email);
    await page.locator("#password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await expect(page).toHaveURL(ACCOUNT);
    await expect(page.getByText(`Signed in as ${email}`)).toBeVisible();
    await expect(page.locator(".notices .notice-ok")).toHaveText("Welcome back. You are signed in.");
    await expect(accountLink(page, "Account")).toBeVisible();
  });

  // What works without JavaScript despite the bug above: the forms sign in, and a wrong password
  // comes back to /login with the generic error.
  test("plain forms register and sign in; a wrong password comes back with the error", async ({
    page,
    context,
  }) => {
    const email = uniqueEmail("nojs-forms");
    await page.goto("/register");
    await expect(page.locator("html[data-hydrated]")).toHaveCount(0);
    await page.locator("#email").fill(email);
    await page.locator("#password").fill(PASSWORD);
    await page.getByRole("button", { name: "Create account", exact: true }).click();
    await expect(page).not.toHaveURL(at("/register"));
    expect(await whoAmI(page)).toBe(email);
    await page.goto("/");
    await expect(accountLink(page, "Account")).toBeVisible();

    // A new guest at this browser.
    await context.clearCookies();
    await page.goto("/login");
    await expect(accountLink(page, "Sign in")).toBeVisible();
    await page.locator("#email").fill(email);
    await page.locator("#password").fill("not the password");
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await expect(page).toHaveURL(at("/login"));
    await expect(page.locator(".notices .notice-error")).toHaveText(WRONG);
    await expect(page.locator("#email")).toBeVisible();
    expect(await whoAmI(page)).toBeNull();

    await page.locator("#email").fill(email);
    await page.locator("#password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await expect(page.locator(".notices .notice-error")).toHaveCount(0);
    expect(await whoAmI(page)).toBe(email);
    await page.goto("/");
    await expect(accountLink(page, "Account")).toBeVisible();
  });

  // Regression: the hidden `next` field was once set as a DOM property only, which server
  // rendering does not write, so plain-form sign-ins lost where to go back to.
  test("signing in from /login?next=/cart goes back to the cart", async ({ page, browser, baseURL }) => {
    const email = uniqueEmail("nojs-next");
    const setup = await browser.newContext({ baseURL });
    try {
      await registerViaApi(await setup.newPage(), email);
    } finally {
      await setup.close();
    }
    await page.goto("/login?next=/cart");
    await expect(page.locator("input[type=hidden][name=next]")).toHaveValue("/cart");
    await page.locator("#email").fill(email);
    await page.locator("#password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await expect(page).toHaveURL(at("/cart"));
    await expect(page.getByRole("heading", { level: 1 })).toHaveText("Your cart");
    await expect(accountLink(page, "Account")).toBeVisible();
  });
});

test("/account asks a signed-out visitor to sign in, then comes back", async ({ page, browser, baseURL }) => {
  const email = uniqueEmail("next");
  const setup = await browser.newContext({ baseURL });
  try {
    await registerViaApi(await setup.newPage(), email);
  } finally {
    await setup.close();
  }

  await page.goto("/account");
  await expect(page).toHaveURL(/\/login\?next=\/account$/);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Sign in");
  await signInThroughForm(page, email);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Your account");
  await expect(page.getByText(`Signed in as ${email}`)).toBeVisible();
  expect(await whoAmI(page)).toBe(email);
});

// Regression: the account page once chose between itself and a redirect before the page-load
// account lookup finished, so a signed-in GET /account could answer 302 to /login.
test("a signed-in visitor can load /account directly", async ({ page }) => {
  const email = uniqueEmail("direct");
  await page.goto("/");
  await registerViaApi(page, email);
  expect(await whoAmI(page)).toBe(email);
  for (let i = 0; i < 20; i++) {
    const res = await page.request.get("/account", { headers: { Accept: "text/html" }, maxRedirects: 0 });
    expect(res.status(), `GET /account #${i}: location ${res.headers()["location"]}`).toBe(200);
  }
  await page.goto("/account");
  await expect(page).toHaveURL(ACCOUNT);
  await expect(page.getByText(`Signed in as ${email}`)).toBeVisible();
  await page.reload();
  await expect(page).toHaveURL(ACCOUNT);
  await expect(page.getByText(`Signed in as ${email}`)).toBeVisible();
});
