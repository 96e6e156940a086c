//! Feature flags at run time: which variant a visitor gets, exposures and conversions, and the
//! report. Flags are held in memory and reloaded from the database every couple of seconds, so a
//! change made on any instance reaches all of them within the 5 s the admin page promises.
//!
//! Resolution order for one flag: the kill switch first (disabled: control for everyone, overrides
//! included), then a QA override cookie (`ff.<flag>`, set by `?ff.<flag>=v`; never counted), then
//! a variant pinned to the session at sign-in (so the layout never flips mid-visit), then the
//! subject's recorded exposure, then the hash. Only server-minted anonymous ids (signed) reach
//! here, and pages served from the cache record nothing, so the report counts real visitors.

use super::visitor::Visitor;
use crate::domain::experiments::{report, Flag, Report, Step};
use crate::error::AppError;
use crate::state::AppState;
use crate::storage::experiments::ExperimentStore;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// The cart layout experiment shipped with the shop: `page` (control) or `drawer`.
pub const CART_LAYOUT: &str = "cart_layout";
/// Cookie prefix of QA overrides: `ff.cart_layout=drawer`.
pub use crate::cookies::OVERRIDE_PREFIX;
/// Session key prefix of variants pinned at sign-in.
const PIN_PREFIX: &str = "ff_pin.";
/// How often every instance reloads the flags.
pub const RELOAD_EVERY: Duration = Duration::from_secs(2);

#[derive(Clone)]
pub struct Experiments {
    store: ExperimentStore,
    flags: Arc<RwLock<Arc<HashMap<String, Flag>>>>,
    /// (flag, subject) -> recorded variant: one database round trip per subject, not per page.
    assigned: moka::future::Cache<(String, String), String>,
}

impl Experiments {
    pub fn new(store: ExperimentStore) -> Self {
        Experiments {
            store,
            flags: Arc::default(),
            assigned: moka::future::Cache::builder()
                .max_capacity(200_000)
                .time_to_idle(Duration::from_secs(30 * 60))
                .build(),
        }
    }

    pub async fn reload(&self) -> Result<(), sqlx::Error> {
        let list = self.store.flags().await?;
        let map: HashMap<String, Flag> = list.into_iter().map(|f| (f.name.clone(), f)).collect();
        *self.flags.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(map);
        Ok(())
    }

    pub fn flag(&self, name: &str) -> Option<Flag> {
        self.flags.read().unwrap_or_else(|e| e.into_inner()).get(name).cloned()
    }

    pub fn all(&self) -> Vec<Flag> {
        let mut list: Vec<Flag> = self.flags.read().unwrap_or_else(|e| e.into_inner()).values().cloned().collect();
        list.sort_by(|a, b| a.name.cmp(&b.name));
        list
    }

    /// Changes a flag (validated) and applies it here at once; other instances follow on reload.
    pub async fn update(&self, name: &str, enabled: bool, variants: &str) -> Result<Flag, AppError> {
        let current = self.flag(name).ok_or_else(|| AppError::NotFound(format!("There is no flag {name:?}.")))?;
        let variants = Flag::parse_variants(variants).map_err(|e| AppError::Invalid(format!("Variants: {e}.")))?;
        let flag = Flag { name: current.name, enabled, variants };
        if !self.store.update(&flag).await? {
            return Err(AppError::NotFound(format!("There is no flag {name:?}.")));
        }
        self.reload().await?;
        tracing::info!(flag = %flag.name, enabled, variants = %flag.variants_spec(), "flag changed");
        Ok(flag)
    }

    /// The variant of `name` for `subject`, recording the first exposure when `count` (not for a
    /// first visit, which is only counted once the visitor comes back). `None` for unknown flags.
    /// Never fails: without the database the hash decides and nothing is recorded.
    pub async fn variant(
        &self,
        name: &str,
        subject: &str,
        forced: Option<&str>,
        pinned: Option<&str>,
        count: bool,
    ) -> Option<String> {
        let flag = self.flag(name)?;
        // Off means off: the control for everyone, QA overrides included.
        if !flag.enabled {
            return Some(flag.control().to_string());
        }
        if let Some(v) = forced.filter(|v| flag.has_variant(v)) {
            return Some(v.to_string());
        }
        if let Some(v) = pinned.filter(|v| flag.has_variant(v)) {
            return Some(v.to_string());
        }
        let hashed = flag.assign(subject).to_string();
        if subject.ends_with(":unknown") || !count {
            return Some(hashed);
        }
        let key = (name.to_string(), subject.to_string());
        if let Some(v) = self.assigned.get(&key).await.filter(|v| flag.has_variant(v)) {
            return Some(v);
        }
        let recorded = match self.store.assigned(name, subject).await {
            Ok(Some(v)) if flag.has_variant(&v) => Ok(v),
            // The recorded variant was removed from the flag: the hash decides now.
            Ok(Some(_)) => Ok(hashed.clone()),
            Ok(None) => self.store.expose(name, subject, &hashed).await.inspect(|v| {
                metrics::counter!("shop_experiment_exposures_total", "flag" => name.to_string(), "variant" => v.clone())
                    .increment(1);
            }),
            Err(e) => Err(e),
        };
        match recorded {
            Ok(v) => {
                self.assigned.insert(key, v.clone()).await;
                Some(v)
            }
            Err(e) => {
                tracing::warn!(error = %e, flag = name, "could not read or record an exposure");
                Some(hashed)
            }
        }
    }

    /// Attributes a funnel step to the subject's variant, in the background.
    pub fn convert(&self, name: &str, subject: &str, step: Step) {
        if !self.flag(name).is_some_and(|f| f.enabled) || subject.ends_with(":unknown") {
            return;
        }
        let (store, name, subject) = (self.store.clone(), name.to_string(), subject.to_string());
        tokio::spawn(async move {
            if let Err(e) = store.convert(&name, &subject, step).await {
                tracing::warn!(error = %e, flag = %name, "could not record a conversion");
            }
        });
    }

    /// Called at sign-in, after the session became the account's: the guest's exposures move to
    /// the account, and where the account was already in another variant, the variant this
    /// browser has been showing is pinned to the session.
    pub async fn on_sign_in(&self, visitor: &Visitor, guest: &str, user: &str) {
        let mut seen: Vec<(String, String)> = Vec::new();
        for flag in self.all().into_iter().filter(|f| f.enabled) {
            if let Some(v) = self.variant(&flag.name, guest, None, None, true).await {
                seen.push((flag.name, v));
            }
        }
        if let Err(e) = self.store.relabel(guest, user).await {
            tracing::warn!(error = %e, "could not move a guest's exposures to the account");
        }
        for (name, guest_variant) in seen {
            self.assigned.invalidate(&(name.clone(), guest.to_string())).await;
            self.assigned.invalidate(&(name.clone(), user.to_string())).await;
            if self.variant(&name, user, None, None, true).await.as_deref() != Some(guest_variant.as_str()) {
                let _ = visitor.session.insert(&format!("{PIN_PREFIX}{name}"), guest_variant).await;
            }
        }
    }

    pub async fn report(&self, name: &str) -> Result<Report, AppError> {
        let flag = self.flag(name).ok_or_else(|| AppError::NotFound(format!("There is no flag {name:?}.")))?;
        let counts = self.store.counts(name).await?;
        Ok(report(&flag, &counts))
    }
}

/// The QA override for `flag` from the request's cookies, if any (a forced page is personal).
pub fn forced_variant(flag: &str) -> Option<String> {
    let parts = leptos::prelude::use_context::<http::request::Parts>()?;
    let forced = crate::cookies::get(&parts.headers, &format!("{OVERRIDE_PREFIX}{flag}"))?;
    super::visitor::mark_personal();
    Some(forced)
}

/// The visitor's variant of `flag` for this request (control for unknown flags).
pub async fn variant_for(state: &AppState, visitor: &Visitor, flag: &str) -> String {
    let subject = visitor.subject().await;
    let pinned = if subject.starts_with("u:") {
        visitor.session.get::<String>(&format!("{PIN_PREFIX}{flag}")).await.ok().flatten()
    } else {
        None
    };
    let count = !super::visitor::Visitor::is_first_visit();
    state
        .experiments
        .variant(flag, &subject, forced_variant(flag).as_deref(), pinned.as_deref(), count)
        .await
        .unwrap_or_else(|| "control".into())
}

/// Attributes `step` of the cart layout experiment to this visitor (not to forced visitors: what
/// they did says nothing about the variant they would have been given).
pub async fn record_step(state: &AppState, visitor: &Visitor, step: Step) {
    let Some(flag) = state.experiments.flag(CART_LAYOUT).filter(|f| f.enabled) else { return };
    if forced_variant(CART_LAYOUT).is_none_or(|v| !flag.has_variant(&v)) {
        let subject = visitor.subject().await;
        state.experiments.convert(CART_LAYOUT, &subject, step);
    }
}
