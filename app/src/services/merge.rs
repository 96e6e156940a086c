//! The guest cart joining the account's at sign-in, exactly once: the cart facade
//! (`storage::carts`) claims, merges and records it; here it is counted, turned into notices, and
//! retried on a later cart read when it failed at sign-in.

use super::visitor::{Visitor, PENDING_MERGE_KEY};
use crate::domain::merge::report_notices;
use crate::error::AppError;
use crate::state::AppState;
use crate::storage::cart_store::CartOwner;
use crate::storage::sql_cart::MergeOutcome;

/// Merges guest cart `guest` into account `user_id` once. Returns the notices for the shopper,
/// or `None` when there was nothing (left) to merge.
pub async fn merge_guest(state: &AppState, guest: &CartOwner, user_id: i64) -> Result<Option<Vec<String>>, AppError> {
    match state.carts.merge_guest(guest, user_id, &state.catalog).await? {
        MergeOutcome::Merged { report, .. } => {
            metrics::counter!("shop_cart_merges_total", "outcome" => "merged").increment(1);
            Ok(Some(report_notices(&report)))
        }
        MergeOutcome::AlreadyMerged => {
            metrics::counter!("shop_cart_merges_total", "outcome" => "already_merged").increment(1);
            Ok(None)
        }
        MergeOutcome::Nothing => Ok(None),
    }
}

/// Retries a merge that failed at sign-in, if one is pending for this session.
pub async fn retry_pending(state: &AppState, visitor: &Visitor, user_id: i64) -> Vec<String> {
    let Ok(Some(key)) = visitor.session.get::<String>(PENDING_MERGE_KEY).await else { return vec![] };
    let Some(guest) = key.strip_prefix("g:").map(|h| CartOwner::Guest(h.to_string())) else {
        let _ = visitor.session.remove::<String>(PENDING_MERGE_KEY).await;
        return vec![];
    };
    match merge_guest(state, &guest, user_id).await {
        Ok(notices) => {
            let _ = visitor.session.remove::<String>(PENDING_MERGE_KEY).await;
            notices.unwrap_or_default()
        }
        Err(e) => {
            tracing::warn!(error = %e, "pending guest-cart merge still failing");
            vec![]
        }
    }
}
