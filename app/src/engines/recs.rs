//! The recommendation model in memory: neighbours and best sellers, replaced whole when the
//! background task recomputes or reloads them (`services::recs`), read by every request.

use crate::domain::recs::Neighbours;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// The served data: cheap to clone (shared), replaced whole on refresh.
#[derive(Clone, Default)]
pub struct Model {
    pub neighbours: Arc<Neighbours>,
    pub best: Arc<Vec<i64>>,
    pub best_by_category: Arc<HashMap<i64, Vec<i64>>>,
}

#[derive(Clone, Default)]
pub struct Recommender {
    model: Arc<RwLock<Model>>,
}

impl Recommender {
    /// The current model (a few shared pointers).
    pub fn snapshot(&self) -> Model {
        self.model.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn set_neighbours(&self, neighbours: Neighbours) {
        self.model.write().unwrap_or_else(|e| e.into_inner()).neighbours = Arc::new(neighbours);
    }

    pub fn set_best_sellers(&self, best: Vec<i64>, by_category: HashMap<i64, Vec<i64>>) {
        let mut m = self.model.write().unwrap_or_else(|e| e.into_inner());
        m.best = Arc::new(best);
        m.best_by_category = Arc::new(by_category);
    }
}
