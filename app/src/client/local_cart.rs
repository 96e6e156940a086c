//! The guest's cart mirrored in localStorage: `{lines: [{variant_id, product_id, quantity}], version,
//! saved_at}`
//! under one key. It is only a backup: the server checks everything restored from it, and when
//! the server has a cart, the server wins and overwrites this copy.

use crate::domain::cart::{ClientLine, MAX_LINES, MAX_QUANTITY};
use crate::model::CartView;
use serde::{Deserialize, Serialize};

pub const KEY: &str = "copperleaf.cart.v1";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedCart {
    pub lines: Vec<ClientLine>,
    pub version: u64,
    pub saved_at: i64,
    /// The discount code applied to the cart (copies saved before codes have none).
    #[serde(default)]
    pub code: Option<String>,
}

impl SavedCart {
    pub fn from_view(view: &CartView, now_ms: i64) -> SavedCart {
        SavedCart {
            lines: view
                .lines
                .iter()
                .filter(|l| l.on_sale)
                .map(|l| ClientLine {
                    variant_id: Some(l.variant_id),
                    product_id: Some(l.product_id),
                    quantity: i64::from(l.quantity),
                })
                .collect(),
            version: view.version,
            saved_at: now_ms,
            code: view.pricing.code.clone(),
        }
    }

    /// Parses a stored value; anything malformed or implausible (tampered) is rejected whole.
    pub fn parse(raw: &str) -> Option<SavedCart> {
        let saved: SavedCart = serde_json::from_str(raw).ok()?;
        let plausible = saved.lines.len() <= MAX_LINES
            && saved.lines.iter().all(|l| {
                // Copies saved before variants name only the product.
                let named = l.variant_id.or(l.product_id).is_some_and(|id| id > 0);
                named && l.variant_id.is_none_or(|id| id > 0) && l.product_id.is_none_or(|id| id > 0)
            })
            && saved.lines.iter().all(|l| (1..=i64::from(MAX_QUANTITY)).contains(&l.quantity))
            && saved.code.as_ref().is_none_or(|c| c.len() <= 32);
        plausible.then_some(saved)
    }

    /// Same lines and version: writing it again would only wake other tabs for nothing.
    pub fn same_as(&self, other: &SavedCart) -> bool {
        self.version == other.version && self.lines == other.lines && self.code == other.code
    }
}

#[cfg(feature = "hydrate")]
fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()?
}

/// The saved copy, if there is a valid one. A corrupt or tampered value is removed.
pub fn load() -> Option<SavedCart> {
    #[cfg(feature = "hydrate")]
    {
        let storage = storage()?;
        let raw = storage.get_item(KEY).ok()??;
        match SavedCart::parse(&raw) {
            Some(saved) => Some(saved),
            None => {
                let _ = storage.remove_item(KEY);
                None
            }
        }
    }
    #[cfg(not(feature = "hydrate"))]
    None
}

/// Saves the cart unless the same lines and version are already saved.
pub fn save(view: &CartView) {
    #[cfg(feature = "hydrate")]
    {
        let Some(storage) = storage() else { return };
        let saved = SavedCart::from_view(view, js_sys::Date::now() as i64);
        if load().is_some_and(|old| old.same_as(&saved)) {
            return;
        }
        if let Ok(json) = serde_json::to_string(&saved) {
            let _ = storage.set_item(KEY, &json);
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = view;
}

pub fn clear() {
    #[cfg(feature = "hydrate")]
    if let Some(storage) = storage() {
        let _ = storage.remove_item(KEY);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tampered_copies_are_rejected() {
        // A copy saved before variants existed, and one saved since.
        assert!(SavedCart::parse(r#"{"lines":[{"product_id":3,"quantity":2}],"version":4,"saved_at":1}"#).is_some());
        let now = r#"{"lines":[{"variant_id":9,"product_id":3,"quantity":2}],"version":4,"saved_at":1}"#;
        assert_eq!(SavedCart::parse(now).unwrap().lines[0].variant_id, Some(9));
        for bad in [
            "not json",
            r#"{"lines":"x","version":1,"saved_at":1}"#,
            r#"{"lines":[{"product_id":3,"quantity":0}],"version":1,"saved_at":1}"#,
            r#"{"lines":[{"product_id":-3,"quantity":1}],"version":1,"saved_at":1}"#,
            r#"{"lines":[{"variant_id":-3,"product_id":3,"quantity":1}],"version":1,"saved_at":1}"#,
            r#"{"lines":[{"quantity":1}],"version":1,"saved_at":1}"#,
            r#"{"lines":[{"product_id":3,"quantity":100}],"version":1,"saved_at":1}"#,
            r#"{"lines":[{"product_id":3,"quantity":1,"price_cents":1}],"version":-1,"saved_at":1}"#,
        ] {
            assert!(SavedCart::parse(bad).is_none(), "{bad}");
        }
    }
}
