import { test, expect } from "@playwright/test";
import { hydrated } from "./helpers";

const PASSWORD = "correct horse battery";

test("a cart changed on another device shows up within a second, without a reload", async ({ browser }) => {
  const email = `live-${Date.now()}-${Math.random().toString(36).slice(2, 8)}@example.com`;
  const phone = await browser.newContext();
  const laptop = await browser.newContext();
  const reg = await phone.request.post("/api/auth/register", { form: { email, password: PASSWORD } });
  expect(reg.status()).toBe(200);
  const login = await laptop.request.post("/api/auth/login", { form: { email, password: PASSWORD } });
  expect(login.status()).toBe(200);

  const cartPage = await laptop.newPage();
  // The laptop's page is listening before the phone changes anything.
  const listening = cartPage.waitForResponse((r) => new URL(r.url()).pathname === "/events/cart");
  await cartPage.goto("/cart");
  await hydrated(cartPage);
  await expect(cartPage.getByTestId("cart-count")).toHaveText("0");
  expect((await listening).status()).toBe(200);

  const shop = await phone.newPage();
  await shop.goto("/c/kitchen");
  await hydrated(shop);
  const card = shop.locator("ul.grid > li").filter({ has: shop.locator(".stock.in") }).first();
  const name = (await card.locator(".card-name").textContent())!.trim();
  await card.getByRole("button", { name: `Add to cart: ${name}`, exact: true }).click();
  await expect(shop.getByTestId("cart-count")).toHaveText("1");

  await expect(cartPage.getByTestId("cart-count")).toHaveText("1", { timeout: 2_000 });
  await expect(cartPage.locator("main li.cart-line")).toHaveCount(1, { timeout: 2_000 });
  await expect(cartPage.locator("main li.cart-line h3")).toHaveText(name);
  await phone.close();
  await laptop.close();
});
