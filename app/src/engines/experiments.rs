//! The flag table at run time: flags held in memory and reloaded from the database every couple
//! of seconds (so a change made on any instance reaches all of them within the 5 s the admin page
//! promises), which variant a subject gets, exposures, conversions and the report. Who the
//! visitor is and what their cookies force is the service's business (`services::experiments`).
//!
//! Resolution order for one flag: the kill switch first (disabled: control for everyone, overrides
//! included), then a QA override cookie (`ff.<flag>`, set by `?ff.<flag>=v`; never counted), then
//! a variant pinned to the session at sign-in (so the layout never flips mid-visit), then the
//! subject's recorded exposure, then the hash. Only server-minted anonymous ids (signed) reach
//! here, and pages served from the cache record nothing, so the report counts real visitors.

use crate::domain::experiments::{report, Flag, Report, Step, Subject};
use crate::error::AppError;
use crate::storage::experiments::ExperimentStore;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

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
        subject: &Subject,
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
        let subject = subject.key();
        let hashed = flag.assign(&subject).to_string();
        if subject == Subject::Unknown.key() || !count {
            return Some(hashed);
        }
        let key = (name.to_string(), subject.clone());
        if let Some(v) = self.assigned.get(&key).await.filter(|v| flag.has_variant(v)) {
            return Some(v);
        }
        let recorded = match self.store.assigned(name, &subject).await {
            Ok(Some(v)) if flag.has_variant(&v) => Ok(v),
            // The recorded variant was removed from the flag: the hash decides now.
            Ok(Some(_)) => Ok(hashed.clone()),
            Ok(None) => self.store.expose(name, &subject, &hashed).await.inspect(|v| {
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
    pub fn convert(&self, name: &str, subject: &Subject, step: Step) {
        if !self.flag(name).is_some_and(|f| f.enabled) || !subject.is_known() {
            return;
        }
        let (store, name, subject) = (self.store.clone(), name.to_string(), subject.key());
        tokio::spawn(async move {
            if let Err(e) = store.convert(&name, &subject, step).await {
                tracing::warn!(error = %e, flag = %name, "could not record a conversion");
            }
        });
    }

    /// Called at sign-in: the guest's exposures move to the account. Returns the (flag, variant)
    /// pairs this browser has been shown where the account was already in another variant; the
    /// caller pins them to the session so the layout does not flip mid-visit.
    pub async fn move_to_account(&self, guest: &Subject, user: &Subject) -> Vec<(String, String)> {
        let mut seen: Vec<(String, String)> = Vec::new();
        for flag in self.all().into_iter().filter(|f| f.enabled) {
            if let Some(v) = self.variant(&flag.name, guest, None, None, true).await {
                seen.push((flag.name, v));
            }
        }
        if let Err(e) = self.store.relabel(&guest.key(), &user.key()).await {
            tracing::warn!(error = %e, "could not move a guest's exposures to the account");
        }
        let mut pins = Vec::new();
        for (name, guest_variant) in seen {
            self.assigned.invalidate(&(name.clone(), guest.key())).await;
            self.assigned.invalidate(&(name.clone(), user.key())).await;
            if self.variant(&name, user, None, None, true).await.as_deref() != Some(guest_variant.as_str()) {
                pins.push((name, guest_variant));
            }
        }
        pins
    }

    pub async fn report(&self, name: &str) -> Result<Report, AppError> {
        let flag = self.flag(name).ok_or_else(|| AppError::NotFound(format!("There is no flag {name:?}.")))?;
        let counts = self.store.counts(name).await?;
        Ok(report(&flag, &counts))
    }
}
