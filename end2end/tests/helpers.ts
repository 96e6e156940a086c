import { expect, Page } from "@playwright/test";
import AxeBuilder from "@axe-core/playwright";

/** Waits until the wasm bundle has hydrated the page (frontend/src/lib.rs sets the marker). */
export async function hydrated(page: Page) {
  await expect(page.locator("html[data-hydrated=true]")).toHaveCount(1, { timeout: 15_000 });
}

/** Fails on serious or critical accessibility violations. */
export async function expectAccessible(page: Page) {
  const results = await new AxeBuilder({ page }).analyze();
  const bad = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  expect(
    bad.map((v) => `${v.id} (${v.impact}): ${v.help} -> ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`),
  ).toEqual([]);
}

/** Parses "$1,234.56" into cents. */
export function cents(text: string): number {
  const digits = text.replace(/[^0-9.]/g, "");
  return Math.round(parseFloat(digits) * 100);
}

export type Product = { id: number; name: string; slug: string; priceCents: number };

/** Products on the current listing page whose stock class is `stock.<kind>` ("in", "low", "out"). */
export async function listed(page: Page, kind: "in" | "low" | "out" = "in"): Promise<Product[]> {
  const cards = page.locator("ul.grid > li").filter({ has: page.locator(`.stock.${kind}`) });
  const out: Product[] = [];
  for (const card of await cards.all()) {
    const href = (await card.locator(".card-link").getAttribute("href"))!;
    out.push({
      id: Number(await card.locator("input[name=product_id]").getAttribute("value")),
      name: (await card.locator(".card-name").textContent())!.trim(),
      slug: href.replace(/^\/p\//, ""),
      priceCents: cents((await card.locator(".price").textContent())!),
    });
  }
  return out;
}
