//! A small closed-loop load generator for the benchmarks: `connections` workers each send one
//! request at a time for a fixed duration; latencies go into HDR histograms.

use hdrhistogram::Histogram;
use std::future::Future;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct Report {
    pub label: String,
    pub requests: u64,
    pub errors: u64,
    pub elapsed: Duration,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Report {
    pub fn rps(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    pub fn line(&self) -> String {
        format!(
            "{:<34} {:>9.0} req/s  p50 {:>7.2} ms  p95 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms  errors {}",
            self.label,
            self.rps(),
            self.p50_ms,
            self.p95_ms,
            self.p99_ms,
            self.max_ms,
            self.errors
        )
    }
}

pub fn new_histogram() -> Histogram<u64> {
    // 1 µs .. 60 s at 3 significant figures.
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds")
}

pub fn report_from(label: &str, hist: &Histogram<u64>, errors: u64, elapsed: Duration) -> Report {
    let ms = |q: f64| hist.value_at_quantile(q) as f64 / 1000.0;
    Report {
        label: label.to_string(),
        requests: hist.len(),
        errors,
        elapsed,
        p50_ms: ms(0.50),
        p95_ms: ms(0.95),
        p99_ms: ms(0.99),
        max_ms: hist.max() as f64 / 1000.0,
    }
}

/// Runs `op(worker, iteration)` from `connections` workers for `warmup + duration`; only requests
/// that start after the warm-up count. `op` returns whether the request succeeded.
pub async fn run<F, Fut>(label: &str, connections: usize, warmup: Duration, duration: Duration, op: F) -> Report
where
    F: Fn(usize, u64) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send,
{
    let start = Instant::now();
    let measure_from = start + warmup;
    let end = measure_from + duration;
    let mut tasks = Vec::with_capacity(connections);
    for worker in 0..connections {
        let op = op.clone();
        tasks.push(tokio::spawn(async move {
            let mut hist = new_histogram();
            let mut errors = 0u64;
            let mut i = 0u64;
            loop {
                let t0 = Instant::now();
                if t0 >= end {
                    break;
                }
                let ok = op(worker, i).await;
                i += 1;
                if t0 >= measure_from {
                    let us = t0.elapsed().as_micros().max(1) as u64;
                    let _ = hist.record(us.min(60_000_000));
                    if !ok {
                        errors += 1;
                    }
                }
            }
            (hist, errors)
        }));
    }
    let mut total = new_histogram();
    let mut errors = 0;
    for t in tasks {
        let (h, e) = t.await.expect("worker panicked");
        total.add(&h).expect("same bounds");
        errors += e;
    }
    report_from(label, &total, errors, duration)
}

/// An HTTP client for load: keep-alive, no redirects followed, no cookie jar.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(1024)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("http client")
}

/// GETs `url` and reads the whole body; true on a 2xx answer.
pub async fn get_ok(http: &reqwest::Client, url: &str) -> bool {
    match http.get(url).send().await {
        Ok(r) if r.status().is_success() => r.bytes().await.is_ok(),
        _ => false,
    }
}
