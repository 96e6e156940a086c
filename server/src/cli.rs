//! Commands besides serving: `server recs recompute`, `server admin create`,
//! `server catalog set-price|set-stock`. (The recommendation evaluation is the tools crate's
//! `recs-eval`.)

use crate::startup;
use app::config::Config;

pub const USAGE: &str = "usage: server [command]
  serve                      run the shop (the default)
  migrate                    migrate the database and exit
  recs recompute             rebuild the recommendation neighbours from the events
  admin create EMAIL         create an administrator (or promote an account); the password
                             is read from ADMIN_PASSWORD or the first line of standard input
  catalog set-price SKU AMOUNT
                             set a variant's price (e.g. 12.99, in the shop's currency);
                             a product without options is named by its slug
  catalog set-stock SKU N    set a variant's stock level
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
        return Err(format!("usage: server catalog set-price SKU AMOUNT | set-stock SKU N\n{USAGE}"));
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
            let n = app::services::recs::recompute(&state).await.map_err(|e| e.message())?;
            println!("recomputed neighbours for {n} products");
            Ok(())
        }
        Some("eval") => Err("`server recs eval` is now the tools crate's `recs-eval`: \
                             cargo run --release -p tools --bin recs-eval -- [--customers N | --csv FILE]"
            .into()),
        _ => Err(format!("unknown recs command\n{USAGE}")),
    }
}
