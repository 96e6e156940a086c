//! Commands besides serving: `server recs recompute`, `server recs eval`, `server admin create`,
//! `server catalog set-price|set-stock`.

use crate::seed::history;
use crate::{recs_eval, startup};
use app::config::Config;
use std::collections::HashMap;

pub const USAGE: &str = "usage: server [command]
  serve                      run the shop (the default)
  migrate                    migrate the database and exit
  recs recompute             rebuild the recommendation neighbours from the events
  recs eval [--customers N]  evaluate recommendations against a popularity baseline on a
                             synthetic order history of N customers (default 600)
  recs eval --csv FILE       the same on a real history: rows of customer,order,product,timestamp
  admin create EMAIL         create an administrator (or promote an account); the password
                             is read from ADMIN_PASSWORD or the first line of standard input
  catalog set-price SLUG AMOUNT
                             set a product's price (e.g. 12.99, in the shop's currency)
  catalog set-stock SLUG N   set a product's stock level
                             (running instances drop the old value within seconds)
  help                       this text";

pub async fn admin(config: Config, args: &[String]) -> Result<(), String> {
    let (Some("create"), Some(email)) = (args.first().map(String::as_str), args.get(1)) else {
        return Err(format!("unknown admin command\n{USAGE}"));
    };
    let password = match std::env::var("ADMIN_PASSWORD") {
        Ok(p) => p,
        Err(_) => {
            let mut line = String::new();
            std::io::stdin().read_line(&mut line).map_err(|e| e.to_string())?;
            line.trim_end_matches(['\r', '\n']).to_string()
        }
    };
    let state = startup::build_state(config).await.map_err(|e| e.to_string())?;
    let user = app::services::auth::create_admin(&state, email, password).await.map_err(|e| e.message())?;
    println!("{} (id {}) is an administrator", user.email, user.id);
    Ok(())
}

pub async fn catalog(config: Config, args: &[String]) -> Result<(), String> {
    let (command, Some(slug), Some(value)) = (args.first().map(String::as_str), args.get(1), args.get(2)) else {
        return Err(format!("usage: server catalog set-price SLUG AMOUNT | set-stock SLUG N\n{USAGE}"));
    };
    let (price, stock) = match command {
        Some("set-price") => (Some(value.as_str()), None),
        Some("set-stock") => (None, Some(value.as_str())),
        _ => return Err(format!("unknown catalog command\n{USAGE}")),
    };
    let state = startup::build_state(config).await.map_err(|e| e.to_string())?;
    let card = app::services::catalog_admin::edit(&state, slug, price, stock).await.map_err(|e| e.message())?;
    println!("{}: {} ({} in stock)", card.slug, card.price(), card.stock);
    Ok(())
}

pub async fn recs(config: Config, args: &[String]) -> Result<(), String> {
    match args.first().map(String::as_str) {
        Some("recompute") => {
            let state = startup::build_state(config).await.map_err(|e| e.to_string())?;
            let n = state.recommender.recompute(&state).await.map_err(|e| e.message())?;
            println!("recomputed neighbours for {n} products");
            Ok(())
        }
        Some("eval") => eval(&args[1..]),
        _ => Err(format!("unknown recs command\n{USAGE}")),
    }
}

fn eval(args: &[String]) -> Result<(), String> {
    let flag = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let products: Vec<(i64, i64)> = crate::seed::demo::products().iter().map(|p| (p.id, p.category_id)).collect();
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
