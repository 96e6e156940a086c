//! `recs-eval`: leave-last-out evaluation of the recommender against a popularity
//! baseline. For every customer with at least two purchases, the last product bought is held
//! out; both recommenders see everything else; a hit is the held-out product in their row of 8.

use app::domain::recs::{build_neighbours, hit_and_ndcg, recommend, Candidate, Interaction, Profile, Seed, Signal};
use server::seed::history::Order;
use std::collections::{HashMap, HashSet};

pub const K: usize = 8;

#[derive(Debug, Clone, PartialEq)]
pub struct Scores {
    pub customers: usize,
    pub engine_hit_rate: f64,
    pub engine_ndcg: f64,
    pub baseline_hit_rate: f64,
    pub baseline_ndcg: f64,
}

/// `categories`: the department of every known product (unknown products count as one
/// department of their own, 0).
pub fn evaluate(orders: &[Order], categories: &HashMap<i64, i64>) -> Scores {
    // The held-out purchase of each customer: the last product of their last order.
    let mut last: HashMap<&str, (i64, &str, i64)> = HashMap::new();
    let mut count: HashMap<&str, usize> = HashMap::new();
    for o in orders {
        *count.entry(&o.customer).or_insert(0) += o.products.len();
        let held = *o.products.last().expect("orders have products");
        match last.get(o.customer.as_str()) {
            Some((_, _, at)) if *at > o.at_ms => {}
            _ => {
                last.insert(&o.customer, (held, &o.order, o.at_ms));
            }
        }
    }
    last.retain(|c, _| count[c] >= 2);
    let held_out: HashSet<(&str, i64)> = last.values().map(|(p, order, _)| (*order, *p)).collect();
    let now = orders.iter().map(|o| o.at_ms).max().unwrap_or(0) + 1;
    let mut training: Vec<Interaction> = Vec::new();
    let mut history: HashMap<&str, Vec<(i64, i64)>> = HashMap::new();
    let mut popularity: HashMap<i64, u64> = HashMap::new();
    for o in orders {
        for &p in &o.products {
            if held_out.contains(&(o.order.as_str(), p)) {
                continue;
            }
            training.push(Interaction {
                basket: o.order.clone(),
                product_id: p,
                signal: Signal::Purchase,
                at_ms: o.at_ms,
            });
            history.entry(&o.customer).or_default().push((p, o.at_ms));
            *popularity.entry(p).or_insert(0) += 1;
        }
    }
    let neighbours = build_neighbours(&training, now, 30, 45.0, 2);
    let mut popular: Vec<(i64, u64)> = popularity.into_iter().collect();
    popular.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let popular: Vec<i64> = popular.into_iter().map(|(p, _)| p).collect();
    let mut by_category: HashMap<i64, Vec<i64>> = HashMap::new();
    for &p in &popular {
        by_category.entry(*categories.get(&p).unwrap_or(&0)).or_default().push(p);
    }
    let all_products: HashSet<i64> = orders.iter().flat_map(|o| o.products.iter().copied()).collect();
    let candidates: HashMap<i64, Candidate> = all_products
        .iter()
        .map(|&p| (p, Candidate { category_id: *categories.get(&p).unwrap_or(&0), in_stock: true }))
        .collect();

    let (mut eh, mut en, mut bh, mut bn) = (0.0, 0.0, 0.0, 0.0);
    let mut customers: Vec<&&str> = last.keys().collect();
    customers.sort();
    for customer in &customers {
        let (held, _, _) = last[**customer];
        let mut seen = history.get(**customer).cloned().unwrap_or_default();
        seen.sort_by_key(|s| std::cmp::Reverse(s.1));
        let bought: HashSet<i64> = seen.iter().map(|(p, _)| *p).collect();
        let mut categories_liked: HashMap<i64, f64> = HashMap::new();
        let seeds: Vec<Seed> = seen
            .iter()
            .enumerate()
            .map(|(i, (p, _))| {
                let weight = Signal::Purchase.weight() * 0.8f64.powi(i as i32);
                *categories_liked.entry(*categories.get(p).unwrap_or(&0)).or_insert(0.0) += weight;
                Seed { product_id: *p, weight, signal: Signal::Purchase }
            })
            .collect();
        let profile = Profile { seeds, categories: categories_liked, exclude: bought.clone() };
        let row: Vec<i64> = recommend(&profile, &neighbours, &candidates, &by_category, &popular, K, 3)
            .into_iter()
            .map(|p| p.product_id)
            .collect();
        let (h, n) = hit_and_ndcg(&row, held, K);
        eh += h;
        en += n;
        let baseline: Vec<i64> = popular.iter().copied().filter(|p| !bought.contains(p)).take(K).collect();
        let (h, n) = hit_and_ndcg(&baseline, held, K);
        bh += h;
        bn += n;
    }
    let n = customers.len().max(1) as f64;
    Scores {
        customers: customers.len(),
        engine_hit_rate: eh / n,
        engine_ndcg: en / n,
        baseline_hit_rate: bh / n,
        baseline_ndcg: bn / n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use server::seed::history::generate;

    #[test]
    fn the_engine_beats_popularity_on_structured_histories() {
        let products: Vec<(i64, i64)> = server::seed::demo::products().iter().map(|p| (p.id, p.category_id)).collect();
        let categories: HashMap<i64, i64> = products.iter().copied().collect();
        let orders = generate(&products, 400, 42, 1_000 * app::domain::recs::DAY_MS);
        let s = evaluate(&orders, &categories);
        assert!(s.customers >= 350, "{s:?}");
        assert!(s.engine_hit_rate > 2.0 * s.baseline_hit_rate, "{s:?}");
        assert!(s.engine_ndcg > 2.0 * s.baseline_ndcg, "{s:?}");
    }
}
