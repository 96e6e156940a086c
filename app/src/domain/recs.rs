//! Recommendations, pure: turning interactions into item-to-item neighbours, scoring products
//! for one shopper, keeping a row diverse, and the measures used to evaluate it all.
//!
//! Neighbours: products that appear in the same baskets (an order, or one shopper's carts and
//! views of one day) are related. Each product in a basket carries the strength of its strongest
//! signal (purchase > cart > view), decayed with age; a pair adds the product of its two
//! strengths. Scores are normalised by the products' overall strengths (cosine), so best sellers
//! do not neighbour everything, and shrunk when few baskets support them.

use std::collections::{HashMap, HashSet};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Signal {
    View,
    Cart,
    Purchase,
}

impl Signal {
    pub fn weight(self) -> f64 {
        match self {
            Signal::View => 1.0,
            Signal::Cart => 3.0,
            Signal::Purchase => 5.0,
        }
    }

    pub fn parse(kind: &str) -> Option<Signal> {
        match kind {
            "view" => Some(Signal::View),
            "cart" => Some(Signal::Cart),
            "purchase" => Some(Signal::Purchase),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Signal::View => "view",
            Signal::Cart => "cart",
            Signal::Purchase => "purchase",
        }
    }
}

/// One thing a shopper did with a product, grouped into a basket.
#[derive(Clone, Debug, PartialEq)]
pub struct Interaction {
    pub basket: String,
    pub product_id: i64,
    pub signal: Signal,
    pub at_ms: i64,
}

pub const DAY_MS: i64 = 86_400_000;

/// Weight of a signal `age_ms` old, halving every `half_life_days`.
pub fn decay(age_ms: i64, half_life_days: f64) -> f64 {
    let days = age_ms.max(0) as f64 / DAY_MS as f64;
    0.5f64.powf(days / half_life_days.max(0.001))
}

pub type Neighbours = HashMap<i64, Vec<(i64, f64)>>;

/// Largest basket considered; bigger ones keep their strongest products (they say little anyway).
const MAX_BASKET: usize = 40;
/// Pairs seen in few baskets are shrunk towards zero: `n / (n + SHRINK)`.
const SHRINK: f64 = 2.0;

/// The top `k` neighbours of every product, strongest first. Pairs seen together in fewer than
/// `min_support` baskets are coincidence, not a relation, and are left out.
pub fn build_neighbours(
    interactions: &[Interaction],
    now_ms: i64,
    k: usize,
    half_life_days: f64,
    min_support: u32,
) -> Neighbours {
    let mut baskets: HashMap<&str, HashMap<i64, f64>> = HashMap::new();
    for i in interactions {
        let w = i.signal.weight() * decay(now_ms - i.at_ms, half_life_days);
        let slot = baskets.entry(i.basket.as_str()).or_default().entry(i.product_id).or_insert(0.0);
        if w > *slot {
            *slot = w;
        }
    }
    let mut strength: HashMap<i64, f64> = HashMap::new();
    let mut pairs: HashMap<(i64, i64), (f64, u32)> = HashMap::new();
    for items in baskets.values() {
        let mut items: Vec<(i64, f64)> = items.iter().map(|(p, w)| (*p, *w)).collect();
        items.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        items.truncate(MAX_BASKET);
        for &(p, w) in &items {
            *strength.entry(p).or_insert(0.0) += w * w;
        }
        for (x, &(a, wa)) in items.iter().enumerate() {
            for &(b, wb) in &items[x + 1..] {
                let key = if a < b { (a, b) } else { (b, a) };
                let e = pairs.entry(key).or_insert((0.0, 0));
                e.0 += wa * wb;
                e.1 += 1;
            }
        }
    }
    let mut out: Neighbours = HashMap::new();
    for ((a, b), (co, n)) in pairs {
        if n < min_support {
            continue;
        }
        let norm = (strength[&a] * strength[&b]).sqrt();
        if norm <= 0.0 {
            continue;
        }
        let score = co / norm * (f64::from(n) / (f64::from(n) + SHRINK));
        out.entry(a).or_default().push((b, score));
        out.entry(b).or_default().push((a, score));
    }
    for list in out.values_mut() {
        list.sort_by(|x, y| y.1.total_cmp(&x.1).then(x.0.cmp(&y.0)));
        list.truncate(k);
    }
    out
}

/// What is known about a shopper: weighted seed products, category affinity, and products not
/// to recommend (in the cart, already bought, the product being viewed).
#[derive(Clone, Debug, Default)]
pub struct Profile {
    pub seeds: Vec<Seed>,
    pub categories: HashMap<i64, f64>,
    pub exclude: HashSet<i64>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Seed {
    pub product_id: i64,
    pub weight: f64,
    pub signal: Signal,
}

/// What the recommender needs to know about a candidate product.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    pub category_id: i64,
    pub in_stock: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reason {
    /// Bought, carted or viewed together with this seed product.
    With { seed: i64, signal: Signal },
    /// Popular in a category the shopper likes.
    PopularIn { category_id: i64 },
    /// A best seller (cold start).
    BestSeller,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Pick {
    pub product_id: i64,
    pub score: f64,
    pub reason: Reason,
}

/// Scores candidates for `profile`: neighbours of the seeds, then popular products of the
/// shopper's favourite categories, then best sellers; never excluded or out-of-stock products;
/// at most `max_per_category` from one category in a row of `n`.
pub fn recommend(
    profile: &Profile,
    neighbours: &Neighbours,
    candidates: &HashMap<i64, Candidate>,
    popular_by_category: &HashMap<i64, Vec<i64>>,
    best_sellers: &[i64],
    n: usize,
    max_per_category: usize,
) -> Vec<Pick> {
    let eligible = |p: i64| !profile.exclude.contains(&p) && candidates.get(&p).is_some_and(|c| c.in_stock);
    let mut scored: HashMap<i64, (f64, Reason, f64)> = HashMap::new();
    for seed in &profile.seeds {
        for &(p, s) in neighbours.get(&seed.product_id).map(Vec::as_slice).unwrap_or(&[]) {
            if !eligible(p) {
                continue;
            }
            let contribution = seed.weight * s;
            let e = scored.entry(p).or_insert((0.0, Reason::With { seed: seed.product_id, signal: seed.signal }, 0.0));
            e.0 += contribution;
            if contribution > e.2 {
                e.1 = Reason::With { seed: seed.product_id, signal: seed.signal };
                e.2 = contribution;
            }
        }
    }
    // Category affinity: a small boost for related products in liked categories, and popular
    // products of those categories as further candidates.
    let total_affinity: f64 = profile.categories.values().sum();
    if total_affinity > 0.0 {
        let mut liked: Vec<(i64, f64)> = profile.categories.iter().map(|(c, w)| (*c, *w / total_affinity)).collect();
        liked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        for (p, (score, _, _)) in scored.iter_mut() {
            if let Some(share) = candidates.get(p).and_then(|c| profile.categories.get(&c.category_id)) {
                *score *= 1.0 + share / total_affinity;
            }
        }
        for (category_id, share) in liked.iter().take(3) {
            for (rank, &p) in popular_by_category.get(category_id).map(Vec::as_slice).unwrap_or(&[]).iter().enumerate()
            {
                if eligible(p) {
                    // Below any real neighbour signal, ordered by share and popularity rank.
                    let s = 0.01 * share / (1.0 + rank as f64);
                    scored.entry(p).or_insert((s, Reason::PopularIn { category_id: *category_id }, s));
                }
            }
        }
    }
    let mut ranked: Vec<Pick> =
        scored.into_iter().map(|(product_id, (score, reason, _))| Pick { product_id, score, reason }).collect();
    ranked.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.product_id.cmp(&b.product_id)));
    // Best sellers come after every scored product: they fill the row when signal runs out, and
    // they come before a fourth product of one department.
    let have: HashSet<i64> = ranked.iter().map(|p| p.product_id).collect();
    ranked.extend(best_sellers.iter().filter(|p| eligible(**p) && !have.contains(p)).map(|&product_id| Pick {
        product_id,
        score: 0.0,
        reason: Reason::BestSeller,
    }));
    diversify(ranked, candidates, n, max_per_category)
}

/// Takes picks in order, skipping a product while its category already has `max_per_category`
/// in the row; skipped ones fill the row only if nothing else is left.
pub fn diversify(
    ranked: Vec<Pick>,
    candidates: &HashMap<i64, Candidate>,
    n: usize,
    max_per_category: usize,
) -> Vec<Pick> {
    let mut row = Vec::with_capacity(n);
    let mut per_category: HashMap<i64, usize> = HashMap::new();
    let mut seen = HashSet::new();
    let mut held_back = Vec::new();
    for pick in ranked {
        if row.len() == n {
            break;
        }
        if !seen.insert(pick.product_id) {
            continue;
        }
        let category = candidates.get(&pick.product_id).map(|c| c.category_id).unwrap_or(0);
        let count = per_category.entry(category).or_insert(0);
        if *count < max_per_category {
            *count += 1;
            row.push(pick);
        } else {
            held_back.push(pick);
        }
    }
    let missing = n.saturating_sub(row.len());
    row.extend(held_back.into_iter().take(missing));
    row
}

/// Hit rate contribution and NDCG of one held-out item in a ranked list, cut at `k`.
pub fn hit_and_ndcg(ranked: &[i64], held_out: i64, k: usize) -> (f64, f64) {
    match ranked.iter().take(k).position(|&p| p == held_out) {
        Some(rank) => (1.0, 1.0 / ((rank as f64) + 2.0).log2()),
        None => (0.0, 0.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn i(basket: &str, product_id: i64, signal: Signal, at_ms: i64) -> Interaction {
        Interaction { basket: basket.into(), product_id, signal, at_ms }
    }

    fn cands(list: &[(i64, i64, bool)]) -> HashMap<i64, Candidate> {
        list.iter().map(|&(p, c, s)| (p, Candidate { category_id: c, in_stock: s })).collect()
    }

    #[test]
    fn products_bought_together_become_neighbours() {
        let now = 100 * DAY_MS;
        let mut data = Vec::new();
        for o in 0..10 {
            data.push(i(&format!("o{o}"), 1, Signal::Purchase, now));
            data.push(i(&format!("o{o}"), 2, Signal::Purchase, now));
        }
        data.push(i("o99", 1, Signal::Purchase, now));
        data.push(i("o99", 3, Signal::Purchase, now));
        let n = build_neighbours(&data, now, 10, 30.0, 1);
        assert_eq!(n[&1][0].0, 2, "2 is 1's strongest neighbour");
        assert!(n[&1][0].1 > n[&1][1].1);
        assert_eq!(n[&2], vec![(1, n[&2][0].1)]);
        // Symmetric scores.
        let s12 = n[&1].iter().find(|x| x.0 == 2).unwrap().1;
        let s21 = n[&2].iter().find(|x| x.0 == 1).unwrap().1;
        assert!((s12 - s21).abs() < 1e-12);
        // Seen together once only: not a neighbour once support is required.
        let supported = build_neighbours(&data, now, 10, 30.0, 2);
        assert_eq!(supported[&1].iter().map(|x| x.0).collect::<Vec<_>>(), vec![2]);
        assert!(!supported.contains_key(&3));
    }

    #[test]
    fn stronger_and_newer_signals_count_more() {
        let now = 400 * DAY_MS;
        let data = vec![
            i("a", 1, Signal::Purchase, now),
            i("a", 2, Signal::Purchase, now),
            i("b", 1, Signal::View, now),
            i("b", 3, Signal::View, now),
            i("c", 1, Signal::Purchase, now - 300 * DAY_MS),
            i("c", 4, Signal::Purchase, now - 300 * DAY_MS),
        ];
        let n = build_neighbours(&data, now, 10, 30.0, 1);
        let order: Vec<i64> = n[&1].iter().map(|x| x.0).collect();
        assert_eq!(order[0], 2, "a fresh purchase pair beats a view pair");
        assert_eq!(*order.last().unwrap(), 4, "a 300-day-old pair counts least");
        assert!((decay(30 * DAY_MS, 30.0) - 0.5).abs() < 1e-12);
        assert_eq!(Signal::parse("cart"), Some(Signal::Cart));
        assert_eq!(Signal::parse("nope"), None);
    }

    #[test]
    fn recommendations_exclude_cart_bought_and_sold_out() {
        let neighbours: Neighbours = [(1, vec![(2, 0.9), (3, 0.8), (4, 0.7), (5, 0.6)])].into_iter().collect();
        let candidates = cands(&[(1, 1, true), (2, 1, true), (3, 1, false), (4, 1, true), (5, 1, true), (9, 2, true)]);
        let profile = Profile {
            seeds: vec![Seed { product_id: 1, weight: 1.0, signal: Signal::View }],
            categories: HashMap::new(),
            exclude: [1, 4].into_iter().collect(),
        };
        let row = recommend(&profile, &neighbours, &candidates, &HashMap::new(), &[9, 5, 4, 3], 8, 3);
        let ids: Vec<i64> = row.iter().map(|p| p.product_id).collect();
        assert_eq!(ids, vec![2, 5, 9], "3 sold out, 1 and 4 excluded; best sellers fill in");
        assert_eq!(row[0].reason, Reason::With { seed: 1, signal: Signal::View });
        assert_eq!(row[2].reason, Reason::BestSeller);
    }

    #[test]
    fn at_most_three_per_category_in_a_row_of_eight() {
        let picks: Vec<Pick> =
            (1..=12).map(|p| Pick { product_id: p, score: 100.0 - p as f64, reason: Reason::BestSeller }).collect();
        // 1..=6 in category 1, 7..=12 spread over categories 2, 3, 4.
        let candidates = cands(&[
            (1, 1, true),
            (2, 1, true),
            (3, 1, true),
            (4, 1, true),
            (5, 1, true),
            (6, 1, true),
            (7, 2, true),
            (8, 2, true),
            (9, 3, true),
            (10, 3, true),
            (11, 4, true),
            (12, 4, true),
        ]);
        let row = diversify(picks, &candidates, 8, 3);
        let ids: Vec<i64> = row.iter().map(|p| p.product_id).collect();
        assert_eq!(ids, vec![1, 2, 3, 7, 8, 9, 10, 11]);
        // With only one category available, the row still fills.
        let one = cands(&(1..=10).map(|p| (p, 1, true)).collect::<Vec<_>>());
        let picks: Vec<Pick> =
            (1..=10).map(|p| Pick { product_id: p, score: 1.0, reason: Reason::BestSeller }).collect();
        assert_eq!(diversify(picks, &one, 8, 3).len(), 8);
    }

    #[test]
    fn best_sellers_of_other_departments_come_before_a_fourth_of_one() {
        // Every scored product is in department 1; best sellers are elsewhere.
        let neighbours: Neighbours =
            [(1, (2..=9).map(|p| (p, 1.0 - p as f64 / 100.0)).collect())].into_iter().collect();
        let mut list: Vec<(i64, i64, bool)> = (1..=9).map(|p| (p, 1, true)).collect();
        list.extend((20..=25).map(|p| (p, p, true)));
        let candidates = cands(&list);
        let profile = Profile {
            seeds: vec![Seed { product_id: 1, weight: 1.0, signal: Signal::View }],
            exclude: [1].into_iter().collect(),
            ..Profile::default()
        };
        let row = recommend(&profile, &neighbours, &candidates, &HashMap::new(), &[20, 21, 22, 23, 24, 25], 8, 3);
        let ids: Vec<i64> = row.iter().map(|p| p.product_id).collect();
        assert_eq!(ids, vec![2, 3, 4, 20, 21, 22, 23, 24]);
    }

    #[test]
    fn cold_start_uses_best_sellers_and_affinity_uses_category_favourites() {
        let candidates = cands(&[(1, 1, true), (2, 1, true), (3, 2, true), (4, 2, true), (5, 3, true)]);
        let cold = recommend(&Profile::default(), &HashMap::new(), &candidates, &HashMap::new(), &[5, 3, 1], 8, 3);
        assert_eq!(cold.iter().map(|p| p.product_id).collect::<Vec<_>>(), vec![5, 3, 1]);
        assert!(cold.iter().all(|p| p.reason == Reason::BestSeller));
        let fan_of_2 = Profile { categories: [(2, 5.0), (1, 1.0)].into_iter().collect(), ..Profile::default() };
        let popular: HashMap<i64, Vec<i64>> = [(2, vec![4, 3]), (1, vec![2, 1])].into_iter().collect();
        let row = recommend(&fan_of_2, &HashMap::new(), &candidates, &popular, &[5], 8, 3);
        let ids: Vec<i64> = row.iter().map(|p| p.product_id).collect();
        assert_eq!(&ids[..2], &[4, 3], "the favourite category leads");
        assert_eq!(row[0].reason, Reason::PopularIn { category_id: 2 });
    }

    #[test]
    fn evaluation_measures() {
        assert_eq!(hit_and_ndcg(&[5, 6, 7], 5, 8), (1.0, 1.0));
        let (hit, ndcg) = hit_and_ndcg(&[5, 6, 7], 7, 8);
        assert_eq!(hit, 1.0);
        assert!((ndcg - 0.5).abs() < 1e-12, "rank 3: 1/log2(4)");
        assert_eq!(hit_and_ndcg(&[1, 2, 3, 4, 5, 6, 7, 8, 9], 9, 8), (0.0, 0.0), "cut at k");
    }
}
