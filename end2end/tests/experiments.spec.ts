import { test, expect, Page, Browser, APIRequestContext } from "@playwright/test";
import { hydrated, expectAccessible, uniqueEmail, serverCommand, signedInContext } from "./helpers";

// The cart layout experiment (issue: A/B cart layouts): both variants end to end, sticky
// assignment across reloads and sign-in, the QA override, the kill switch, the admin pages.
// Tests here change the shop-wide flag, so they run one after another and switch it off after.
test.describe.configure({ mode: "serial" });

const ADMIN = "qa-admin@example.com";
const PASSWORD = "correct horse battery";

/** An administrator made with the server's own command, on the database the test server uses. */
test.beforeAll(() => {
  serverCommand(["admin", "create", ADMIN], { ADMIN_PASSWORD: PASSWORD });
});

async function adminRequest(browser: Browser): Promise<APIRequestContext> {
  return (await signedInContext(browser, ADMIN, PASSWORD)).request;
}

async function setFlag(admin: APIRequestContext, enabled: boolean, variants: string) {
  const form: Record<string, string> = { name: "cart_layout", variants };
  if (enabled) form.enabled = "on";
  const res = await admin.post("/api/admin/flags/update", { form });
  expect(res.status(), await res.text()).toBe(200);
}

// QA overrides work only while the experiment runs (a disabled flag is the control for
// everyone), so the layout tests run it with everyone in the control unless forced.
test.beforeAll(async ({ browser }) => {
  await setFlag(await adminRequest(browser), true, "page:100,drawer:0");
});

test.afterAll(async ({ browser }) => {
  await setFlag(await adminRequest(browser), false, "page:50,drawer:50");
});

function layoutOf(page: Page) {
  return page.locator("#cart-layout").getAttribute("data-cart-layout");
}

/** First in-stock product card on the kitchen listing. */
async function firstInStock(page: Page) {
  const card = page.locator("ul.grid > li").filter({ has: page.locator(".stock.in") }).first();
  const name = (await card.locator(".card-name").textContent())!.trim();
  return { card, name };
}

async function fillCheckout(page: Page, email: string) {
  await page.locator("#email").fill(email);
  await page.locator("#name").fill("Ann Lee");
  await page.locator("#line1").fill("1 Main Street");
  await page.locator("#city").fill("Springfield");
  await page.locator("#postcode").fill("AB1 2CD");
  await page.locator("#country").selectOption("GB");
}

test("drawer layout: add opens a focus-trapped drawer, quantities change there, checkout works", async ({ page }) => {
  await page.goto("/c/kitchen?ff.cart_layout=drawer");
  await hydrated(page);
  expect(await layoutOf(page)).toBe("drawer");
  const drawer = page.getByRole("dialog", { name: "Your cart" });
  await expect(drawer).toBeHidden();

  const { name } = await firstInStock(page);
  const add = page.getByRole("button", { name: `Add to cart: ${name}`, exact: true });
  await add.click();
  await expect(drawer).toBeVisible();
  await expect(page.getByRole("button", { name: "Close cart" })).toBeFocused();
  const line = drawer.locator("li.cart-line");
  await expect(line).toHaveCount(1);
  await expect(line.getByRole("heading", { level: 3 })).toHaveText(name);
  await expect(page.getByTestId("cart-count")).toHaveText("1");
  await expectAccessible(page);

  // Quantity controls inside the drawer.
  await drawer.getByRole("button", { name: `One more ${name}` }).click();
  await expect(line.locator("input[type=number]")).toHaveValue("2");
  await expect(page.getByTestId("cart-count")).toHaveText("2");

  // Tab and Shift+Tab stay inside the dialog.
  for (let i = 0; i < 12; i++) {
    await page.keyboard.press(i % 3 === 2 ? "Shift+Tab" : "Tab");
    expect(await page.evaluate(() => !!document.activeElement?.closest("#cart-drawer"))).toBe(true);
  }
  // Escape closes it and focus goes back to the button that opened it.
  await page.keyboard.press("Escape");
  await expect(drawer).toBeHidden();
  await expect(add).toBeFocused();

  // The cart link opens the drawer instead of leaving the page.
  await page.getByRole("link", { name: /Cart/ }).click();
  await expect(drawer).toBeVisible();
  await expect(page).toHaveURL(/\/c\/kitchen/);
  // The backdrop closes it too.
  await page.locator(".drawer-backdrop").click({ position: { x: 10, y: 10 } });
  await expect(drawer).toBeHidden();

  await page.getByRole("link", { name: /Cart/ }).click();
  await drawer.getByRole("link", { name: "Check out" }).click();
  await expect(page).toHaveURL(/\/checkout$/);
  await hydrated(page);
  await fillCheckout(page, uniqueEmail("drawer"));
  await page.getByRole("button", { name: /^Place order · / }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Thank you for your order");
  await expect(page.getByTestId("cart-count")).toHaveText("0");
});

test("page layout: add keeps you on the page, the cart page changes quantities, checkout works", async ({ page }) => {
  await page.goto("/c/kitchen?ff.cart_layout=page");
  await hydrated(page);
  expect(await layoutOf(page)).toBe("page");
  await expect(page.locator("#cart-drawer")).toHaveCount(0);
  const { name } = await firstInStock(page);
  await page.getByRole("button", { name: `Add to cart: ${name}`, exact: true }).click();
  await expect(page.getByTestId("cart-count")).toHaveText("1");
  await expect(page.getByRole("dialog")).toHaveCount(0);
  await expect(page).toHaveURL(/\/c\/kitchen/);

  await page.getByRole("link", { name: /Cart/ }).click();
  await expect(page).toHaveURL(/\/cart$/);
  await hydrated(page);
  await page.getByRole("button", { name: `One more ${name}` }).click();
  await expect(page.getByTestId("cart-count")).toHaveText("2");
  await page.getByRole("link", { name: /check ?out/i }).first().click();
  await expect(page).toHaveURL(/\/checkout$/);
  await hydrated(page);
  await fillCheckout(page, uniqueEmail("page"));
  await page.getByRole("button", { name: /^Place order · / }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Thank you for your order");
});

test("the drawer layout works without JavaScript as far as the cart does", async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto("/c/kitchen?ff.cart_layout=drawer");
  expect(await layoutOf(page)).toBe("drawer");
  const { name } = await firstInStock(page);
  await page.getByRole("button", { name: `Add to cart: ${name}`, exact: true }).click();
  await expect(page.getByTestId("cart-count")).toHaveText("1");
  await page.getByRole("link", { name: /Cart/ }).click();
  await expect(page).toHaveURL(/\/cart$/);
  await expect(page.locator("main li.cart-line")).toHaveCount(1);
  await context.close();
});

test("assignment sticks across reloads and sign-in, and the report counts it", async ({ browser }) => {
  const admin = await adminRequest(browser);
  await setFlag(admin, true, "page:50,drawer:50");
  const seen = new Set<string>();
  for (let i = 0; i < 4; i++) {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto("/");
    const first = (await layoutOf(page))!;
    seen.add(first);
    await page.reload();
    expect(await layoutOf(page)).toBe(first);
    if (i === 0) {
      // Sign up from the guest session: same layout afterwards, on every page.
      await hydrated(page);
      const res = await page.request.post("/api/auth/register", {
        form: { email: uniqueEmail("sticky"), password: PASSWORD },
      });
      expect(res.status()).toBe(200);
      await page.goto("/c/kitchen");
      expect(await layoutOf(page)).toBe(first);
      await page.reload();
      expect(await layoutOf(page)).toBe(first);
    }
    await context.close();
  }
  // The report page shows the subjects and is usable.
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto("/login?next=/admin/experiments/cart_layout");
  await page.getByLabel("Email").fill(ADMIN);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/admin\/experiments\/cart_layout$/);
  const rows = page.getByTestId("experiment-report").locator("tbody tr");
  await expect(rows).toHaveCount(2);
  let subjects = 0;
  for (const row of await rows.all()) subjects += Number(await row.getByTestId("subjects").textContent());
  expect(subjects).toBeGreaterThanOrEqual(4);
  await expectAccessible(page);
  await context.close();
});

test("the kill switch on the admin page sends everyone back to the page layout", async ({ browser }) => {
  const admin = await adminRequest(browser);
  await setFlag(admin, true, "page:0,drawer:100");
  const shopper = await browser.newContext();
  const page = await shopper.newPage();
  await page.goto("/");
  expect(await layoutOf(page)).toBe("drawer");

  // The operator switches it off in the admin page.
  const ops = await browser.newContext();
  const adminPage = await ops.newPage();
  await adminPage.goto("/login?next=/account");
  await adminPage.getByLabel("Email").fill(ADMIN);
  await adminPage.getByLabel("Password").fill(PASSWORD);
  await adminPage.getByRole("button", { name: "Sign in" }).click();
  await expect(adminPage).toHaveURL(/\/account$/);
  // Admins find the admin pages from their account.
  await adminPage.getByRole("link", { name: /Shop admin/ }).click();
  await expect(adminPage).toHaveURL(/\/admin$/);
  await hydrated(adminPage);
  const flag = adminPage.locator('li[data-flag="cart_layout"]');
  await expect(flag.getByTestId("flag-state")).toHaveText(/On/);
  await expectAccessible(adminPage);
  await flag.getByLabel("Enabled").uncheck();
  await flag.getByRole("button", { name: "Save" }).click();
  await expect(flag.getByTestId("flag-state")).toHaveText(/Off/);

  await page.reload();
  expect(await layoutOf(page)).toBe("page");
  await expect(page.locator("#cart-drawer")).toHaveCount(0);
  // Off means off: not even the QA override brings the drawer back.
  await page.goto("/?ff.cart_layout=drawer");
  expect(await layoutOf(page)).toBe("page");
  await shopper.close();
  await ops.close();
});
