//! Payments behind a small trait, so a real provider (Stripe, Adyen...) can replace the
//! simulation without touching checkout. The flow is authorize → place the order → capture, and
//! void when the order cannot be placed, as card providers expect.

use crate::domain::money::Currency;
use async_trait::async_trait;

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum PaymentError {
    #[error("the payment was declined")]
    Declined,
    #[error("the payment provider is unavailable")]
    Unavailable,
}

#[async_trait]
pub trait PaymentProvider: Send + Sync {
    /// Reserves `amount_cents`; returns the provider's authorization reference.
    async fn authorize(
        &self,
        amount_cents: i64,
        currency: Currency,
        order_reference: &str,
    ) -> Result<String, PaymentError>;
    async fn capture(&self, authorization: &str) -> Result<(), PaymentError>;
    async fn void(&self, authorization: &str) -> Result<(), PaymentError>;
}

/// Approves every payment up to a limit, with no outside calls.
pub struct SimulatedPayments;

/// Larger amounts are declined, so the decline path can be exercised.
pub const SIMULATED_LIMIT_CENTS: i64 = 10_000_000;

#[async_trait]
impl PaymentProvider for SimulatedPayments {
    async fn authorize(
        &self,
        amount_cents: i64,
        currency: Currency,
        order_reference: &str,
    ) -> Result<String, PaymentError> {
        if amount_cents <= 0 || amount_cents > SIMULATED_LIMIT_CENTS {
            return Err(PaymentError::Declined);
        }
        Ok(format!("sim_{}_{}_{}", currency.code(), amount_cents, order_reference))
    }

    async fn capture(&self, _authorization: &str) -> Result<(), PaymentError> {
        Ok(())
    }

    async fn void(&self, _authorization: &str) -> Result<(), PaymentError> {
        Ok(())
    }
}
