//! The Redis connection pool and the circuit breaker every Redis caller goes through.
//!
//! fred reconnects in the background forever. The breaker makes callers fail fast while Redis
//! is down instead of each waiting for a timeout: after `FAILURES_TO_OPEN` consecutive failures
//! it opens for `OPEN_FOR_MS`; then it is half-open: exactly one call goes through as a probe
//! while every other call still fails fast. The probe's success closes the breaker; its failure
//! opens it again.

use fred::prelude::{Builder, ClientLike, Config, Pool, ReconnectPolicy};
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

const FAILURES_TO_OPEN: u32 = 3;
const OPEN_FOR_MS: i64 = 2_000;
/// Longest a single Redis call may take before it counts as a failure.
pub const CALL_TIMEOUT: Duration = Duration::from_millis(1_000);

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum RedisError {
    #[error("Redis is unavailable (circuit open)")]
    Open,
    #[error("Redis timed out")]
    Timeout,
    #[error("Redis error: {0}")]
    Command(String),
}

#[derive(Default)]
struct Breaker {
    failures: AtomicU32,
    open_until_ms: AtomicI64,
    open: AtomicBool,
    /// A half-open probe is in flight.
    probing: AtomicBool,
}

/// What the breaker lets a call do.
enum Admission {
    /// Closed: go ahead.
    Pass,
    /// Half-open, and this call is the one probe.
    Probe(ProbeGuard),
    /// Open, or half-open with the probe already out.
    Refuse,
}

/// Marks the probe as finished however the call ends, even if its future is dropped.
struct ProbeGuard(Arc<Breaker>);

impl Drop for ProbeGuard {
    fn drop(&mut self) {
        self.0.probing.store(false, Ordering::Release);
    }
}

#[derive(Clone)]
pub struct Redis {
    pub pool: Pool,
    breaker: Arc<Breaker>,
}

fn now_ms() -> i64 {
    crate::storage::db::now_ms()
}

impl Redis {
    /// Builds the pool and starts connecting in the background. Does not fail when Redis is down:
    /// the shop starts anyway and the breaker reports the outage until Redis answers.
    pub async fn connect(url: &str, pool_size: usize) -> Result<Redis, RedisError> {
        let mut config = Config::from_url(url).map_err(|e| RedisError::Command(e.to_string()))?;
        // Keep reconnecting even when the very first attempt fails (Redis starting after us).
        config.fail_fast = false;
        let pool = Builder::from_config(config)
            .with_connection_config(|c| {
                c.connection_timeout = Duration::from_secs(2);
                c.internal_command_timeout = Duration::from_secs(2);
                c.max_command_attempts = 2;
            })
            .with_performance_config(|p| {
                p.default_command_timeout = CALL_TIMEOUT;
            })
            .set_policy(ReconnectPolicy::new_exponential(0, 100, 2_000, 2))
            .build_pool(pool_size)
            .map_err(|e| RedisError::Command(e.to_string()))?;
        pool.connect();
        let redis = Redis { pool, breaker: Arc::new(Breaker::default()) };
        if tokio::time::timeout(Duration::from_secs(3), redis.pool.wait_for_connect()).await.is_err() {
            tracing::warn!("Redis is not reachable yet; carrying on and reconnecting in the background");
        }
        Ok(redis)
    }

    /// Runs one Redis operation through the breaker and the timeout.
    pub async fn call<T, E, F>(&self, op: F) -> Result<T, RedisError>
    where
        E: std::fmt::Display,
        F: Future<Output = Result<T, E>>,
    {
        let probe = match self.admit() {
            Admission::Refuse => {
                metrics::counter!("shop_redis_errors_total", "kind" => "circuit_open").increment(1);
                return Err(RedisError::Open);
            }
            Admission::Pass => None,
            Admission::Probe(guard) => Some(guard),
        };
        let result = match tokio::time::timeout(CALL_TIMEOUT, op).await {
            Ok(Ok(v)) => {
                self.record_success();
                Ok(v)
            }
            Ok(Err(e)) => {
                self.record_failure(probe.is_some());
                metrics::counter!("shop_redis_errors_total", "kind" => "command").increment(1);
                Err(RedisError::Command(e.to_string()))
            }
            Err(_) => {
                self.record_failure(probe.is_some());
                metrics::counter!("shop_redis_errors_total", "kind" => "timeout").increment(1);
                Err(RedisError::Timeout)
            }
        };
        drop(probe);
        result
    }

    fn admit(&self) -> Admission {
        let b = &self.breaker;
        if !b.open.load(Ordering::Acquire) {
            return Admission::Pass;
        }
        if now_ms() < b.open_until_ms.load(Ordering::Acquire) {
            return Admission::Refuse;
        }
        match b.probing.compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => {
                let guard = ProbeGuard(b.clone());
                // A probe that just failed reopened the breaker before letting go of the slot:
                // look again now that the slot is ours.
                if !b.open.load(Ordering::Acquire) {
                    Admission::Pass
                } else if now_ms() < b.open_until_ms.load(Ordering::Acquire) {
                    Admission::Refuse
                } else {
                    Admission::Probe(guard)
                }
            }
            Err(_) => Admission::Refuse,
        }
    }

    /// True while failing fast (open, or half-open with its probe out).
    pub fn is_open(&self) -> bool {
        self.breaker.open.load(Ordering::Relaxed)
    }

    fn record_success(&self) {
        self.breaker.failures.store(0, Ordering::Relaxed);
        if self.breaker.open.swap(false, Ordering::Relaxed) {
            tracing::info!("Redis is back; circuit closed");
            metrics::gauge!("shop_redis_circuit_open").set(0.0);
        }
    }

    fn record_failure(&self, probe: bool) {
        let failures = self.breaker.failures.fetch_add(1, Ordering::Relaxed) + 1;
        if probe || failures >= FAILURES_TO_OPEN {
            self.breaker.open_until_ms.store(now_ms() + OPEN_FOR_MS, Ordering::Relaxed);
            if !self.breaker.open.swap(true, Ordering::Relaxed) {
                tracing::warn!(failures, "Redis failing; circuit opened");
                metrics::gauge!("shop_redis_circuit_open").set(1.0);
            }
        }
    }

    /// PING through the breaker, for `/readyz`.
    pub async fn ping(&self) -> Result<(), RedisError> {
        self.call(async { self.pool.next().ping::<String>(None).await.map(|_| ()) }).await
    }
}

impl Redis {
    /// PUBLISH through the breaker.
    pub async fn publish(&self, channel: &str, message: &str) -> Result<(), RedisError> {
        use fred::prelude::PubsubInterface;
        self.call(async { self.pool.next().publish::<i64, _, _>(channel, message).await }).await.map(|_| ())
    }
}

/// Subscribes to `channel` on its own connection (pub/sub needs one), resubscribing after every
/// reconnect, and hands each text message to `on_message` for the life of the process.
pub async fn subscribe<F>(url: &str, channel: &'static str, on_message: F) -> Result<(), fred::error::Error>
where
    F: Fn(String) + Send + 'static,
{
    use fred::prelude::{EventInterface, PubsubInterface};
    let mut config = Config::from_url(url)?;
    config.fail_fast = false;
    let subscriber = Builder::from_config(config)
        .set_policy(ReconnectPolicy::new_exponential(0, 100, 2_000, 2))
        .build_subscriber_client()?;
    let mut messages = subscriber.message_rx();
    let init = tokio::time::timeout(Duration::from_secs(3), async {
        subscriber.init().await?;
        subscriber.manage_subscriptions();
        subscriber.subscribe(channel).await
    });
    match init.await {
        Ok(result) => result?,
        Err(_) => return Err(fred::error::Error::new(fred::error::ErrorKind::Timeout, "timed out subscribing")),
    }
    tokio::spawn(async move {
        let _keep = subscriber;
        loop {
            match messages.recv().await {
                Ok(message) => {
                    if let Some(text) = message.value.as_string() {
                        on_message(text);
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            }
        }
    });
    Ok(())
}
