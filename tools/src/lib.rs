//! The shop's tooling, kept out of the shop's own crate: the benchmarks (`src/bin/bench-*.rs`)
//! and their set-up (`bench`), the closed-loop load generator (`loadgen`), the real server in
//! its own process for measuring its CPU time (`server_process`), the load test
//! (`src/bin/loadtest.rs`) and its shopper journey (`journey`), and the recommendation
//! evaluation (`recs_eval`, run by `src/bin/recs-eval.rs`).

pub mod bench;
pub mod journey;
pub mod loadgen;
pub mod recs_eval;
pub mod server_process;
