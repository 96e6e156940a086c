import { test, expect, Page } from "@playwright/test";
import { hydrated } from "./helpers";

/** Department ids of the home page's "Recommended for you" row, in order. */
async function homeRow(page: Page): Promise<number[]> {
  await page.goto("/");
  const cards = page.locator("#recommendations li.card");
  await expect(cards.first()).toBeVisible();
  return (await cards.evaluateAll((els) => els.map((e) => Number(e.getAttribute("data-category-id")))));
}

test("the home page's row leans toward the department a shopper browses and buys from", async ({ page }) => {
  // Garden is department 11 in the demo catalogue.
  const GARDEN = 11;
  const before = await homeRow(page);
  expect(before.length).toBe(8);
  const gardenBefore = before.filter((c) => c === GARDEN).length;

  await page.goto("/c/garden");
  await hydrated(page);
  const links = await page.locator("ul.grid > li .card-link").evaluateAll((els) => els.slice(0, 4).map((e) => e.getAttribute("href")!));
  for (const href of links) {
    await page.goto(href);
  }
  await hydrated(page);
  await page.getByRole("button", { name: /^Add to cart/ }).first().click();
  await expect(page.getByTestId("cart-count")).toHaveText("1");

  // Signals are written in batches (within a fraction of a second): the row follows shortly.
  await expect
    .poll(async () => {
      const row = await homeRow(page);
      return row.length === 8 && row[0] === GARDEN ? row.filter((c) => c === GARDEN).length : 0;
    }, { timeout: 10_000 })
    .toBeGreaterThanOrEqual(Math.max(gardenBefore, 2));
  // Still diverse: at most three from one department in the row of eight.
  const after = await homeRow(page);
  expect(after.filter((c) => c === GARDEN).length).toBeLessThanOrEqual(3);
});
