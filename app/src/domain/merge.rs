//! Merging a guest cart into an account's cart at login. Pure: the storage layer runs it inside
//! one transaction and records the guest cart as merged in the same transaction, so it applies
//! once (see `SqlCartStore::merge_guest`).
//!
//! Rules: the same product in both carts is summed, then capped at stock and the line maximum;
//! products only in the guest cart are added (capped); the account's other lines are kept as they
//! are; guest lines for unknown, retired or sold-out products are dropped and reported; guest
//! lines beyond the line limit are dropped and reported.

use super::cart::{line_cap, Adjustment, StoredLine};
use crate::model::VariantCard;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergeReport {
    /// Products that came over from the guest cart: (name, quantity now in the cart).
    pub added: Vec<(String, u32)>,
    /// Products that were in both carts: (name, quantity now in the cart).
    pub combined: Vec<(String, u32)>,
    pub adjustments: Vec<Adjustment>,
}

impl MergeReport {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.combined.is_empty() && self.adjustments.is_empty()
    }
}

/// Merges `guest` into `user`. `available` holds the products on sale among both carts' ids.
pub fn merge_lines(
    user: &[StoredLine],
    guest: &[StoredLine],
    available: &HashMap<i64, VariantCard>,
    max_lines: usize,
) -> (Vec<StoredLine>, MergeReport) {
    let mut lines: Vec<StoredLine> = user.to_vec();
    let mut report = MergeReport::default();
    // Duplicate guest lines (not produced by the stores, but cheap to be sure of) are summed.
    let mut wanted: Vec<(i64, u32)> = Vec::new();
    for g in guest {
        match wanted.iter_mut().find(|(id, _)| *id == g.variant_id) {
            Some((_, q)) => *q = q.saturating_add(g.quantity),
            None => wanted.push((g.variant_id, g.quantity)),
        }
    }
    for (variant_id, quantity) in wanted {
        if quantity == 0 {
            continue;
        }
        let Some(card) = available.get(&variant_id) else {
            report.adjustments.push(Adjustment::Unavailable { variant_id });
            continue;
        };
        let cap = line_cap(card.stock);
        if cap == 0 {
            report.adjustments.push(Adjustment::SoldOut { variant_id, name: card.label() });
            continue;
        }
        let count = lines.len();
        match lines.iter_mut().find(|l| l.variant_id == variant_id) {
            Some(line) => {
                let requested = line.quantity.saturating_add(quantity);
                let kept = requested.min(cap);
                if kept < requested {
                    report.adjustments.push(Adjustment::Capped { variant_id, name: card.label(), requested, kept });
                }
                line.quantity = kept;
                line.price_cents = card.price_cents;
                report.combined.push((card.label(), kept));
            }
            None if count >= max_lines => report.adjustments.push(Adjustment::TooManyLines { variant_id }),
            None => {
                let kept = quantity.min(cap);
                if kept < quantity {
                    report.adjustments.push(Adjustment::Capped {
                        variant_id,
                        name: card.label(),
                        requested: quantity,
                        kept,
                    });
                }
                lines.push(StoredLine { variant_id, quantity: kept, price_cents: card.price_cents });
                report.added.push((card.label(), kept));
            }
        }
    }
    lines.retain(|l| l.quantity > 0);
    (lines, report)
}

/// An account cart together with the guest carts already merged into it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccountCart {
    pub lines: Vec<StoredLine>,
    pub merged: BTreeSet<String>,
}

/// Merges the guest cart `guest_key` once: a second merge of the same guest cart changes nothing
/// and reports `None`. (The database keeps `merged` as the `cart_merges` table.)
pub fn merge_once(
    account: &AccountCart,
    guest_key: &str,
    guest: &[StoredLine],
    available: &HashMap<i64, VariantCard>,
    max_lines: usize,
) -> (AccountCart, Option<MergeReport>) {
    if account.merged.contains(guest_key) {
        return (account.clone(), None);
    }
    let (lines, report) = merge_lines(&account.lines, guest, available, max_lines);
    let mut merged = account.merged.clone();
    merged.insert(guest_key.to_string());
    (AccountCart { lines, merged }, Some(report))
}

/// What the shopper is told after logging in.
pub fn report_notices(report: &MergeReport) -> Vec<String> {
    let mut out = Vec::new();
    let moved: Vec<String> = report
        .added
        .iter()
        .chain(&report.combined)
        .map(|(name, q)| if *q == 1 { name.clone() } else { format!("{name} ({q})") })
        .collect();
    if !moved.is_empty() {
        out.push(format!("We moved your guest cart into your account: {}.", moved.join(", ")));
    }
    out.extend(crate::domain::cart::summarise_adjustments(&report.adjustments));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::cart::MAX_LINES;
    use crate::domain::money::Currency;
    use proptest::prelude::*;

    fn card(id: i64, stock: i64) -> VariantCard {
        VariantCard {
            id,
            product_id: id,
            sku: format!("sku{id}"),
            slug: format!("p{id}"),
            name: format!("P{id}"),
            options: String::new(),
            price_cents: 100 + id,
            currency: Currency::USD,
            stock,
            image: String::new(),
            category_id: 1,
            weight_grams: 0,
        }
    }

    fn line(id: i64, q: u32) -> StoredLine {
        StoredLine { variant_id: id, quantity: q, price_cents: 1 }
    }

    #[test]
    fn every_case() {
        let available: HashMap<i64, VariantCard> =
            [(1, card(1, 50)), (2, card(2, 50)), (3, card(3, 4)), (5, card(5, 0))].into_iter().collect();
        let user = vec![line(1, 2), line(9, 1)];
        let guest = vec![line(1, 3), line(2, 1), line(3, 10), line(4, 1), line(5, 1)];
        let (lines, report) = merge_lines(&user, &guest, &available, MAX_LINES);
        let q = |id| lines.iter().find(|l| l.variant_id == id).map(|l| l.quantity);
        assert_eq!(q(1), Some(5), "overlap summed");
        assert_eq!(q(9), Some(1), "the account's other lines are kept");
        assert_eq!(q(2), Some(1), "guest-only line added");
        assert_eq!(q(3), Some(4), "capped at stock");
        assert_eq!(q(4), None, "unknown product dropped");
        assert_eq!(q(5), None, "sold out dropped");
        assert_eq!(report.combined, vec![("P1".into(), 5)]);
        assert_eq!(report.added, vec![("P2".into(), 1), ("P3".into(), 4)]);
        assert!(report.adjustments.contains(&Adjustment::Unavailable { variant_id: 4 }));
        assert!(report.adjustments.contains(&Adjustment::SoldOut { variant_id: 5, name: "P5".into() }));
        assert!(report.adjustments.contains(&Adjustment::Capped {
            variant_id: 3,
            name: "P3".into(),
            requested: 10,
            kept: 4
        }));
        let notices = report_notices(&report);
        assert!(notices[0].starts_with("We moved your guest cart into your account: P2, P3 (4), P1 (5)"));
        assert_eq!(lines[0].price_cents, 101, "merged lines take today's price");
    }

    #[test]
    fn empty_sides() {
        let available: HashMap<i64, VariantCard> = [(1, card(1, 50))].into_iter().collect();
        let (lines, report) = merge_lines(&[], &[line(1, 2)], &available, MAX_LINES);
        assert_eq!(lines, vec![StoredLine { variant_id: 1, quantity: 2, price_cents: 101 }]);
        assert_eq!(report.added.len(), 1);
        let (lines, report) = merge_lines(&[line(1, 2)], &[], &available, MAX_LINES);
        assert_eq!(lines, vec![line(1, 2)]);
        assert!(report.is_empty());
    }

    #[test]
    fn the_line_limit_holds() {
        let available: HashMap<i64, VariantCard> = (1..=120).map(|i| (i, card(i, 10))).collect();
        let user: Vec<_> = (1..=90).map(|i| line(i, 1)).collect();
        let guest: Vec<_> = (80..=120).map(|i| line(i, 1)).collect();
        let (lines, report) = merge_lines(&user, &guest, &available, MAX_LINES);
        assert_eq!(lines.len(), MAX_LINES);
        // 11 overlap (80..=90), 30 new: 10 fit, 20 do not.
        assert_eq!(report.adjustments.iter().filter(|a| matches!(a, Adjustment::TooManyLines { .. })).count(), 20);
    }

    fn cart_strategy(max_id: i64) -> impl Strategy<Value = Vec<StoredLine>> {
        prop::collection::btree_map(1..=max_id, 1u32..=99, 0..30).prop_map(|m| {
            m.into_iter().map(|(id, q)| StoredLine { variant_id: id, quantity: q, price_cents: 1 }).collect()
        })
    }

    fn stock_strategy(max_id: i64) -> impl Strategy<Value = HashMap<i64, VariantCard>> {
        // Some ids are unknown (absent), some sold out, the rest in stock at varying levels.
        prop::collection::btree_map(1..=max_id, prop_oneof![Just(0i64), 1i64..=10, 50i64..=500], 0..40)
            .prop_map(|m| m.into_iter().map(|(id, stock)| (id, card(id, stock))).collect())
    }

    proptest! {
        #[test]
        fn no_line_is_lost_and_quantities_follow_the_rule(
            user in cart_strategy(40), guest in cart_strategy(40), available in stock_strategy(40)
        ) {
            let (lines, _) = merge_lines(&user, &guest, &available, MAX_LINES);
            let find = |id: i64| lines.iter().find(|l| l.variant_id == id).map(|l| l.quantity);
            let mut ids: Vec<i64> = lines.iter().map(|l| l.variant_id).collect();
            ids.sort();
            ids.dedup();
            prop_assert_eq!(ids.len(), lines.len(), "no duplicate lines");
            for u in &user {
                let g = guest.iter().find(|g| g.variant_id == u.variant_id).map(|g| g.quantity);
                match (g, available.get(&u.variant_id)) {
                    (Some(g), Some(c)) if line_cap(c.stock) > 0 => {
                        prop_assert_eq!(find(u.variant_id), Some((u.quantity + g).min(line_cap(c.stock))));
                    }
                    // Not touched by the guest cart (or the guest line was dropped): kept as it is.
                    _ => prop_assert_eq!(find(u.variant_id), Some(u.quantity)),
                }
            }
            for g in &guest {
                let in_user = user.iter().any(|u| u.variant_id == g.variant_id);
                match available.get(&g.variant_id) {
                    Some(c) if line_cap(c.stock) > 0 && !in_user => {
                        prop_assert_eq!(find(g.variant_id), Some(g.quantity.min(line_cap(c.stock))));
                    }
                    Some(_) if in_user => prop_assert!(find(g.variant_id).is_some()),
                    _ if !in_user => prop_assert_eq!(find(g.variant_id), None, "unavailable guest lines are dropped"),
                    _ => {}
                }
            }
        }

        #[test]
        fn merging_the_same_guest_cart_twice_changes_nothing(
            user in cart_strategy(40), guest in cart_strategy(40), available in stock_strategy(40)
        ) {
            let account = AccountCart { lines: user, merged: BTreeSet::new() };
            let (once, report) = merge_once(&account, "g:abc", &guest, &available, MAX_LINES);
            prop_assert!(report.is_some());
            let (twice, again) = merge_once(&once, "g:abc", &guest, &available, MAX_LINES);
            prop_assert!(again.is_none());
            prop_assert_eq!(twice, once);
        }
    }
}
