//! Commands besides serving: `server recs recompute`, `server admin create`,
//! `server catalog set-price|set-stock|import`. (The recommendation evaluation is the tools
//! crate's `recs-eval`.)

use crate::{catalog_import, startup};
use app::config::Config;
use std::path::PathBuf;

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
  catalog import FILE.csv [--skip-invalid] [--category-column NAME] [--public-dir DIR]
                             import Shopify's product CSV export: products by handle,
                             variants by SKU, all in one transaction. A file with a
                             rejected row imports nothing, unless --skip-invalid (then
                             the products without one are imported). The category is the
                             Type column unless NAME is given; picture paths must exist
                             in DIR (default ./public, else the built site's root)
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
    if args.first().map(String::as_str) == Some("import") {
        return import(config, parse_import_args(&args[1..])?).await;
    }
    let (command, Some(slug), Some(value)) = (args.first().map(String::as_str), args.get(1), args.get(2)) else {
        return Err(format!(
            "usage: server catalog set-price SKU AMOUNT | set-stock SKU N | import FILE.csv
{USAGE}"
        ));
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

/// `server catalog import`'s arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportArgs {
    pub file: PathBuf,
    pub skip_invalid: bool,
    pub category_column: Option<String>,
    pub public_dir: Option<PathBuf>,
}

pub fn parse_import_args(args: &[String]) -> Result<ImportArgs, String> {
    let usage = "usage: server catalog import FILE.csv [--skip-invalid] [--category-column NAME] [--public-dir DIR]";
    let mut file = None;
    let (mut skip_invalid, mut category_column, mut public_dir) = (false, None, None);
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if arg.starts_with("--") => (flag, Some(value.to_string())),
            _ => (arg.as_str(), None),
        };
        let mut value =
            || inline.clone().or_else(|| args.next().cloned()).ok_or(format!("{flag} needs a value\n{usage}"));
        match flag {
            "--skip-invalid" if inline.is_none() => skip_invalid = true,
            "--category-column" => category_column = Some(value()?),
            "--public-dir" => public_dir = Some(PathBuf::from(value()?)),
            _ if flag.starts_with("--") => return Err(format!("unknown option {arg}\n{usage}")),
            _ if file.is_none() => file = Some(PathBuf::from(arg)),
            _ => return Err(format!("one file at a time\n{usage}")),
        }
    }
    let file = file.ok_or(usage)?;
    Ok(ImportArgs { file, skip_invalid, category_column, public_dir })
}

async fn import(config: Config, args: ImportArgs) -> Result<(), String> {
    // Connect and migrate only: building the whole shop would also load the demo catalogue into
    // an empty database, which is not what someone importing their own wants.
    let db = startup::connect_db(&config).await.map_err(|e| e.to_string())?;
    let options = catalog_import::ImportOptions {
        skip_invalid: args.skip_invalid,
        category_column: args.category_column,
        public_dir: args.public_dir.unwrap_or_else(catalog_import::default_public_dir),
    };
    let report = catalog_import::import_file(&db, &args.file, &options).await.map_err(|e| e.to_string())?;
    print!("{report}");
    if report.imported && !report.changed_product_ids.is_empty() {
        if let Some(url) = &config.redis_url {
            catalog_import::announce(url, &report.changed_product_ids).await;
        }
    }
    db.close().await;
    if report.failed() {
        return Err(format!("nothing imported from {}", args.file.display()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn import_arguments() {
        let parsed = parse_import_args(&args(&["shop.csv"])).unwrap();
        assert_eq!(
            parsed,
            ImportArgs { file: "shop.csv".into(), skip_invalid: false, category_column: None, public_dir: None }
        );
        let parsed = parse_import_args(&args(&[
            "--skip-invalid",
            "shop.csv",
            "--category-column",
            "Vendor",
            "--public-dir=site",
        ]))
        .unwrap();
        assert_eq!(
            parsed,
            ImportArgs {
                file: "shop.csv".into(),
                skip_invalid: true,
                category_column: Some("Vendor".into()),
                public_dir: Some("site".into())
            }
        );
        assert_eq!(
            parse_import_args(&args(&["a.csv", "--category-column=Product Type"])).unwrap().category_column.as_deref(),
            Some("Product Type")
        );
        for bad in [
            &[][..],
            &["a.csv", "b.csv"],
            &["a.csv", "--category-column"],
            &["a.csv", "--force"],
            &["--skip-invalid=yes", "a.csv"],
        ] {
            assert!(parse_import_args(&args(bad)).is_err(), "{bad:?}");
        }
    }
}
