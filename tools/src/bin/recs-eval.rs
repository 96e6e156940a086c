//! `recs-eval`: evaluates the recommendations against a popularity baseline, on a synthetic
//! order history of the demo catalogue or on a real history from a CSV file. Needs no database.
//! Run: `cargo run --release -p tools --bin recs-eval -- [--customers N | --csv FILE]`.

use server::seed::{demo, history};
use std::collections::HashMap;
use std::process::ExitCode;
use tools::recs_eval;

const USAGE: &str = "usage: recs-eval [--customers N]  evaluate recommendations against a popularity baseline on a
                                 synthetic order history of N customers (default 600)
       recs-eval --csv FILE      the same on a real history: rows of customer,order,product,timestamp";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help" || a == "help") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    match eval(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn eval(args: &[String]) -> Result<(), String> {
    let flag = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let products: Vec<(i64, i64)> = demo::products().iter().map(|p| (p.id, p.category_id)).collect();
    let categories: HashMap<i64, i64> = products.iter().copied().collect();
    let (source, orders) = match flag("--csv") {
        Some(path) => {
            let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
            (format!("CSV {path}"), history::read_csv(&text)?)
        }
        None => {
            let customers: usize =
                flag("--customers").map(|n| n.parse().map_err(|_| "--customers: a number")).transpose()?.unwrap_or(600);
            let now = app::storage::db::now_ms();
            (format!("synthetic history of {customers} customers"), history::generate(&products, customers, 42, now))
        }
    };
    let lines: usize = orders.iter().map(|o| o.products.len()).sum();
    let s = recs_eval::evaluate(&orders, &categories);
    println!(
        "{source}: {} orders, {lines} purchases, {} customers evaluated (last purchase held out)",
        orders.len(),
        s.customers
    );
    println!("{:<28} {:>12} {:>10}", "", format!("hit-rate@{}", recs_eval::K), format!("NDCG@{}", recs_eval::K));
    println!("{:<28} {:>12.3} {:>10.3}", "item-to-item engine", s.engine_hit_rate, s.engine_ndcg);
    println!("{:<28} {:>12.3} {:>10.3}", "popularity baseline", s.baseline_hit_rate, s.baseline_ndcg);
    if s.baseline_hit_rate > 0.0 {
        println!("the engine's hit rate is {:.1}x the baseline's", s.engine_hit_rate / s.baseline_hit_rate);
    }
    Ok(())
}
