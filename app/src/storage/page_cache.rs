//! Rendered pages for visitors without a session. Anonymous catalogue traffic (first visits,
//! crawlers, campaigns) sees the same page per URL, so it is served from memory for a short
//! while instead of being rendered again. Cleared whenever the catalogue changes.

use bytes::Bytes;
use moka::future::Cache;
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct CachedPage {
    pub status: u16,
    pub content_type: String,
    pub body: Bytes,
}

#[derive(Clone)]
pub struct PageCache {
    pages: Cache<String, Arc<CachedPage>>,
}

impl PageCache {
    pub fn new(ttl: Duration, max_bytes: u64) -> Self {
        PageCache {
            pages: Cache::builder()
                .weigher(|k: &String, v: &Arc<CachedPage>| (k.len() + v.body.len()).try_into().unwrap_or(u32::MAX))
                .max_capacity(max_bytes)
                .time_to_live(ttl)
                .build(),
        }
    }

    pub async fn get(&self, key: &str) -> Option<Arc<CachedPage>> {
        self.pages.get(key).await
    }

    pub async fn put(&self, key: String, page: CachedPage) {
        self.pages.insert(key, Arc::new(page)).await;
    }

    pub fn clear(&self) {
        self.pages.invalidate_all();
    }
}
