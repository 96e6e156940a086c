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

/// Approves every payment up to a limit, with no outside calls. Like a provider's test mode, it
/// can be told to fail the next captures (`PAYMENTS_SIMULATE_CAPTURE_FAILURES`), so the shop's
/// handling of a capture failing after the order was placed can be seen and tested.
#[derive(Default)]
pub struct SimulatedPayments {
    failing_captures: std::sync::atomic::AtomicU32,
}

impl SimulatedPayments {
    /// A provider whose next `failing_captures` captures fail.
    pub fn new(failing_captures: u32) -> Self {
        SimulatedPayments { failing_captures: std::sync::atomic::AtomicU32::new(failing_captures) }
    }
}

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
        use std::sync::atomic::Ordering;
        let failing = self.failing_captures.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        match failing {
            Ok(_) => Err(PaymentError::Unavailable),
            Err(_) => Ok(()),
        }
    }

    async fn void(&self, _authorization: &str) -> Result<(), PaymentError> {
        Ok(())
    }
}
