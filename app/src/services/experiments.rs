//! Feature flags for one visitor: which variant they see, funnel steps, and keeping their
//! variants at sign-in. The flag table itself is `engines::experiments`.
//!
//! Resolution order for one flag: the kill switch first (disabled: control for everyone, overrides
//! included), then a QA override cookie (`ff.<flag>`, set by `?ff.<flag>=v`; never counted), then
//! a variant pinned to the session at sign-in (so the layout never flips mid-visit), then the
//! subject's recorded exposure, then the hash.

use super::visitor::Visitor;
use crate::domain::experiments::{Step, Subject, CART_LAYOUT};
use crate::state::AppState;

/// Session key prefix of variants pinned at sign-in.
const PIN_PREFIX: &str = "ff_pin.";

/// The visitor's variant of `flag` for this request (control for unknown flags).
pub async fn variant_for(state: &AppState, visitor: &Visitor, flag: &str) -> String {
    let subject = visitor.subject().await;
    let pinned = if matches!(subject, Subject::User(_)) {
        visitor.session.get::<String>(&format!("{PIN_PREFIX}{flag}")).await.ok().flatten()
    } else {
        None
    };
    let count = !visitor.is_first_visit();
    state
        .experiments
        .variant(flag, &subject, visitor.forced_variant(flag), pinned.as_deref(), count)
        .await
        .unwrap_or_else(|| "control".into())
}

/// Attributes `step` of the cart layout experiment to this visitor (not to forced visitors: what
/// they did says nothing about the variant they would have been given).
pub async fn record_step(state: &AppState, visitor: &Visitor, step: Step) {
    let Some(flag) = state.experiments.flag(CART_LAYOUT).filter(|f| f.enabled) else { return };
    if visitor.forced_variant(CART_LAYOUT).is_none_or(|v| !flag.has_variant(v)) {
        let subject = visitor.subject().await;
        state.experiments.convert(CART_LAYOUT, &subject, step);
    }
}

/// At sign-in, after the session became the account's: the guest's exposures move to the
/// account, and where the account was already in another variant, the variant this browser has
/// been showing is pinned to the session.
pub async fn on_sign_in(state: &AppState, visitor: &Visitor, guest: &Subject, user: &Subject) {
    for (flag, variant) in state.experiments.move_to_account(guest, user).await {
        let _ = visitor.session.insert(&format!("{PIN_PREFIX}{flag}"), variant).await;
    }
}
