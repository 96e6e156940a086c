//! Recommendations: recomputing the model from the events (`recompute`, `reload`; the model lives
//! in `engines::recs`) and serving a row (`recommend`): the shopper's profile comes from their
//! recent events and cart, and the pure scoring is `domain::recs`. Serving has a time budget; on error or timeout the
//! shopper gets best sellers and the page never fails.

use super::visitor::Visitor;
use crate::domain::experiments::Subject;
use crate::domain::recs::{build_neighbours, Candidate, Pick, Profile, Reason, Seed, Signal, DAY_MS};
use crate::engines::recs::Model;
use crate::error::AppError;
use crate::model::{ProductCard, Recommendation};
use crate::state::AppState;
use crate::storage::cart_store::CartOwner;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

pub const ROW: usize = 8;
pub const MAX_PER_CATEGORY: usize = 3;
pub const BUDGET: Duration = Duration::from_millis(30);
const NEIGHBOURS_PER_PRODUCT: usize = 30;
const TRAINING_DAYS: i64 = 180;
const HALF_LIFE_DAYS: f64 = 45.0;
const BEST_SELLER_DAYS: i64 = 7;
/// Baskets a pair must share to count as related.
const MIN_SUPPORT: u32 = 2;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Context {
    Home,
    Product(i64),
    Cart,
}

impl Context {
    pub fn parse(raw: &str) -> Option<Context> {
        match raw {
            "home" => Some(Context::Home),
            "cart" => Some(Context::Cart),
            _ => raw
                .strip_prefix("product:")
                .and_then(|id| id.parse().ok())
                .filter(|id: &i64| *id > 0)
                .map(Context::Product),
        }
    }

    fn label(self) -> &'static str {
        match self {
            Context::Home => "home",
            Context::Product(_) => "product",
            Context::Cart => "cart",
        }
    }
}

/// Records a shopper signal (a view, an add to cart) for recommendations. A first visit and a
/// visitor with no id record nothing, so traffic without cookies cannot fill the signal table.
pub async fn record_signal(state: &AppState, visitor: &Visitor, signal: Signal, product_id: i64) {
    if visitor.is_first_visit() {
        return;
    }
    let subject = visitor.subject().await;
    if subject.is_known() {
        state.events.record(&subject.key(), signal, product_id);
    }
}

/// Rebuilds the neighbours from the events, stores them, and refreshes the best sellers.
pub async fn recompute(state: &AppState) -> Result<usize, AppError> {
    let now = crate::storage::db::now_ms();
    let interactions = state.event_store.interactions(now - TRAINING_DAYS * DAY_MS).await?;
    let neighbours = tokio::task::spawn_blocking(move || {
        build_neighbours(&interactions, now, NEIGHBOURS_PER_PRODUCT, HALF_LIFE_DAYS, MIN_SUPPORT)
    })
    .await
    .map_err(|_| AppError::internal())?;
    state.event_store.save_neighbours(&neighbours).await?;
    let n = neighbours.len();
    state.recommender.set_neighbours(neighbours);
    refresh_best_sellers(state).await?;
    tracing::info!(products = n, "recommendations recomputed");
    Ok(n)
}

/// Loads the stored neighbours (another instance or the CLI may have recomputed them).
pub async fn reload(state: &AppState) -> Result<(), AppError> {
    let neighbours = state.event_store.load_neighbours().await?;
    state.recommender.set_neighbours(neighbours);
    refresh_best_sellers(state).await
}

/// Best sellers of the last week, overall and per category, topped up with all-time
/// popularity where the week was quiet.
async fn refresh_best_sellers(state: &AppState) -> Result<(), AppError> {
    let now = crate::storage::db::now_ms();
    let sold = state.event_store.best_sellers(now - BEST_SELLER_DAYS * DAY_MS).await?;
    let ids: Vec<i64> = sold.iter().map(|(p, _)| *p).collect();
    let cards = state.catalog.cards(&ids).await?;
    let mut best: Vec<i64> = ids.iter().copied().filter(|p| cards.get(p).is_some_and(|c| c.stock > 0)).collect();
    let mut by_category: HashMap<i64, Vec<i64>> = HashMap::new();
    for p in &best {
        if let Some(c) = cards.get(p) {
            by_category.entry(c.category_id).or_default().push(*p);
        }
    }
    for category in state.catalog.categories().await?.iter() {
        let list = by_category.entry(category.id).or_default();
        if list.len() < ROW {
            for card in state.catalog.popular(Some(category.id), 12).await?.iter() {
                if !list.contains(&card.id) {
                    list.push(card.id);
                }
            }
        }
    }
    if best.len() < 24 {
        for card in state.catalog.popular(None, 48).await?.iter() {
            if !best.contains(&card.id) {
                best.push(card.id);
            }
        }
    }
    state.recommender.set_best_sellers(best, by_category);
    Ok(())
}

/// A row of recommendations for `context`, within the time budget; best sellers otherwise.
pub async fn recommend(state: &AppState, visitor: &Visitor, context: Context) -> Vec<Recommendation> {
    let started = std::time::Instant::now();
    // The work runs as its own task so that running out of budget abandons it rather than
    // cancelling a database query halfway (which can leave a pooled connection stuck).
    // Who is asking comes from the request (session, cookies), so it is resolved here; the
    // page needs the session anyway.
    let subject = visitor.subject().await;
    let owner = visitor.cart_owner().await.ok().flatten();
    let st = state.clone();
    let task = tokio::spawn(async move { personalised(&st, subject, owner, context).await });
    let result = tokio::time::timeout(BUDGET, task).await;
    metrics::histogram!("shop_recommendation_seconds", "context" => context.label())
        .record(started.elapsed().as_secs_f64());
    let reason = match result {
        Ok(Ok(Ok(row))) => return row,
        Ok(Ok(Err(e))) => {
            tracing::warn!(error = %e, "recommendations failed; showing best sellers");
            "error"
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "recommendation task panicked; showing best sellers");
            "error"
        }
        // Expected under load; counted rather than logged per request.
        Err(_) => "timeout",
    };
    metrics::counter!("shop_recommendation_fallbacks_total", "reason" => reason).increment(1);
    fallback(state, context).await
}

async fn personalised(
    state: &AppState,
    subject: Subject,
    owner: Option<CartOwner>,
    context: Context,
) -> Result<Vec<Recommendation>, AppError> {
    let Model { neighbours, best, best_by_category: by_category } = state.recommender.snapshot();
    let recent = state.event_store.recent(&subject.key(), 100).await?;
    // Signals and recommendations are per product; the cart holds variants.
    let cart_ids: Vec<i64> = match owner {
        Some(owner) => {
            let variants: Vec<i64> = state.carts.load(&owner).await?.cart.lines.iter().map(|l| l.variant_id).collect();
            let cards = state.catalog.variants(&variants).await?;
            variants.iter().filter_map(|v| cards.get(v).map(|c| c.product_id)).collect()
        }
        None => vec![],
    };
    // Seeds: the context product first, then the cart, then recent signals, newer counting more.
    let mut seeds: HashMap<i64, Seed> = HashMap::new();
    let mut add_seed = |product_id: i64, weight: f64, signal: Signal| {
        let e = seeds.entry(product_id).or_insert(Seed { product_id, weight: 0.0, signal });
        if weight > e.weight {
            e.weight = weight;
            e.signal = signal;
        }
    };
    if let Context::Product(p) = context {
        add_seed(p, 20.0, Signal::Purchase);
    }
    for p in &cart_ids {
        add_seed(*p, Signal::Cart.weight() * 2.0, Signal::Cart);
    }
    for (i, r) in recent.iter().enumerate() {
        add_seed(r.product_id, r.signal.weight() * 0.9f64.powi(i as i32), r.signal);
    }
    let bought: HashSet<i64> = recent.iter().filter(|r| r.signal == Signal::Purchase).map(|r| r.product_id).collect();
    let mut exclude: HashSet<i64> = cart_ids.iter().copied().chain(bought).collect();
    if let Context::Product(p) = context {
        exclude.insert(p);
    }
    // Everything we may need to know about: seeds, their neighbours, popular lists.
    let mut ids: HashSet<i64> = seeds.keys().copied().collect();
    for s in seeds.keys() {
        ids.extend(neighbours.get(s).into_iter().flatten().map(|(p, _)| *p));
    }
    ids.extend(best.iter().take(64));
    for list in by_category.values() {
        ids.extend(list.iter().take(12));
    }
    let ids: Vec<i64> = ids.into_iter().collect();
    let cards = state.catalog.cards(&ids).await?;
    let mut categories: HashMap<i64, f64> = HashMap::new();
    for s in seeds.values() {
        if let Some(c) = cards.get(&s.product_id) {
            *categories.entry(c.category_id).or_insert(0.0) += s.weight;
        }
    }
    let candidates: HashMap<i64, Candidate> =
        cards.iter().map(|(id, c)| (*id, Candidate { category_id: c.category_id, in_stock: c.stock > 0 })).collect();
    let profile = Profile { seeds: seeds.into_values().collect(), categories, exclude };
    let picks =
        crate::domain::recs::recommend(&profile, &neighbours, &candidates, &by_category, &best, ROW, MAX_PER_CATEGORY);
    Ok(describe(state, picks, &cards, context).await)
}

/// Best sellers (of the product's category on a product page), in stock, not in the cart.
async fn fallback(state: &AppState, context: Context) -> Vec<Recommendation> {
    let Model { best, best_by_category: by_category, .. } = state.recommender.snapshot();
    let mut ids: Vec<i64> = Vec::new();
    if let Context::Product(p) = context {
        if let Ok(Some(card)) = state.catalog.card(p).await {
            ids.extend(by_category.get(&card.category_id).into_iter().flatten().filter(|x| **x != p));
        }
    }
    ids.extend(best.iter());
    let cards = state.catalog.cards(&ids).await.unwrap_or_default();
    let candidates: HashMap<i64, Candidate> =
        cards.iter().map(|(id, c)| (*id, Candidate { category_id: c.category_id, in_stock: c.stock > 0 })).collect();
    let picks: Vec<Pick> = ids
        .iter()
        .filter(|p| candidates.get(p).is_some_and(|c| c.in_stock))
        .map(|&product_id| Pick { product_id, score: 0.0, reason: Reason::BestSeller })
        .collect();
    let row = crate::domain::recs::diversify(picks, &candidates, ROW, MAX_PER_CATEGORY);
    describe(state, row, &cards, context).await
}

async fn describe(
    state: &AppState,
    picks: Vec<Pick>,
    cards: &HashMap<i64, ProductCard>,
    context: Context,
) -> Vec<Recommendation> {
    let categories = state.catalog.categories().await.map(|c| c.as_ref().clone()).unwrap_or_default();
    let category_name = |id: i64| {
        categories.iter().find(|c| c.id == id).map(|c| c.name.clone()).unwrap_or_else(|| "this department".into())
    };
    picks
        .into_iter()
        .filter_map(|p| {
            let card = cards.get(&p.product_id)?.clone();
            let reason = match p.reason {
                Reason::With { seed, signal } => {
                    let seed_name = cards.get(&seed).map(|c| c.name.clone()).unwrap_or_default();
                    match (context, signal) {
                        (Context::Product(id), _) if id == seed => "Often bought together".to_string(),
                        (_, Signal::Purchase) => format!("Goes with your {seed_name}"),
                        (_, Signal::Cart) => format!("Goes with {seed_name} in your cart"),
                        (_, Signal::View) => format!("Because you viewed {seed_name}"),
                    }
                }
                Reason::PopularIn { category_id } => format!("Popular in {}", category_name(category_id)),
                Reason::BestSeller => "Best seller this week".to_string(),
            };
            Some(Recommendation { product_id: p.product_id, reason, product: card })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::Context;

    #[test]
    fn contexts_parse_strictly() {
        assert_eq!(Context::parse("home"), Some(Context::Home));
        assert_eq!(Context::parse("cart"), Some(Context::Cart));
        assert_eq!(Context::parse("product:42"), Some(Context::Product(42)));
        for bad in ["", "product:", "product:-1", "product:x", "products:1", "HOME"] {
            assert_eq!(Context::parse(bad), None, "{bad}");
        }
    }
}
