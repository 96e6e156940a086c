//! `server catalog import FILE.csv`: a catalogue from Shopify's product CSV export.
//!
//! `shopify_csv` reads the file into a plan (pure: every format and validation rule lives
//! there); `upsert` writes the plan in one transaction, products matched by handle (slug) and
//! variants by SKU, changing only what differs and logging each changed product in
//! `catalog_changes`, which every running instance follows to drop what it cached. This module
//! reads the file, runs the two and reports.
//!
//! A file with a refused row imports nothing, unless `skip_invalid` is set: then every product
//! none of whose rows was refused is imported.

pub mod shopify_csv;
pub mod upsert;

use app::storage::db::Db;
use shopify_csv::{FileError, ParseOptions, Rejection, Skipped, MAX_FILE_BYTES};
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Import the valid products of a file that has refused rows.
    pub skip_invalid: bool,
    /// The column naming each product's category (Shopify's "Type" when `None`).
    pub category_column: Option<String>,
    /// The folder served at `/` (pictures given as paths must exist in it).
    pub public_dir: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{0}; nothing was imported")]
    File(#[from] FileError),
    #[error("database error, nothing was imported: {0}")]
    Database(#[from] sqlx::Error),
}

/// How many products or variants an import created, changed, or found as the file has them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
}

impl fmt::Display for Counts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} created, {} updated, {} unchanged", self.created, self.updated, self.unchanged)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Data rows in the file.
    pub rows: usize,
    /// Whether the import's transaction committed; when false nothing changed.
    pub imported: bool,
    pub skip_invalid: bool,
    pub products: Counts,
    pub variants: Counts,
    /// Names of the categories the import created.
    pub categories_created: Vec<String>,
    /// Every refused row, by line.
    pub rejected: Vec<Rejection>,
    /// Products left out for a refused row (only imports with `skip_invalid` get this far).
    pub skipped: Vec<Skipped>,
    /// Ids of the products created or changed (each logged in `catalog_changes`).
    pub changed_product_ids: Vec<i64>,
}

impl ImportReport {
    /// Nothing was imported because of refused rows: the command fails.
    pub fn failed(&self) -> bool {
        !self.imported && !self.rejected.is_empty()
    }
}

impl fmt::Display for ImportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "rows read: {}", self.rows)?;
        if self.imported {
            writeln!(f, "products: {}", self.products)?;
            writeln!(f, "variants: {}", self.variants)?;
            if !self.categories_created.is_empty() {
                writeln!(f, "categories created: {}", self.categories_created.join(", "))?;
            }
        }
        if !self.rejected.is_empty() {
            writeln!(f, "rejected rows: {}", self.rejected.len())?;
            for rejection in &self.rejected {
                writeln!(f, "  {rejection}")?;
            }
        }
        if self.imported && !self.skipped.is_empty() {
            let skipped: Vec<String> =
                self.skipped.iter().map(|s| format!("{} (line {})", shopify_csv::quote(&s.handle), s.line)).collect();
            writeln!(f, "products skipped for a rejected row: {}", skipped.join(", "))?;
        }
        if self.failed() {
            if self.skip_invalid {
                writeln!(f, "nothing imported: every product has a rejected row")?;
            } else {
                let n = self.rejected.len();
                let rows = if n == 1 { "row" } else { "rows" };
                writeln!(
                    f,
                    "nothing imported: {n} {rows} rejected; correct them, or import the other products with --skip-invalid"
                )?;
            }
        }
        Ok(())
    }
}

/// Imports the CSV file at `path` (refused unread when larger than 50 MiB).
pub async fn import_file(db: &Db, path: &Path, options: &ImportOptions) -> Result<ImportReport, ImportError> {
    let read_error = |source| ImportError::Read { path: path.display().to_string(), source };
    let file = std::fs::File::open(path).map_err(read_error)?;
    let size = file.metadata().map_err(read_error)?.len();
    if size > MAX_FILE_BYTES as u64 {
        return Err(FileError::TooLarge(usize::try_from(size).unwrap_or(usize::MAX)).into());
    }
    // Bounded again while reading: the file may grow, or be a pipe whose size says nothing.
    let mut bytes = Vec::with_capacity(size as usize);
    file.take(MAX_FILE_BYTES as u64 + 1).read_to_end(&mut bytes).map_err(read_error)?;
    import_bytes(db, &bytes, options).await
}

/// Imports a CSV file's contents.
pub async fn import_bytes(db: &Db, bytes: &[u8], options: &ImportOptions) -> Result<ImportReport, ImportError> {
    let parse_options = ParseOptions {
        category_column: options
            .category_column
            .clone()
            .unwrap_or_else(|| shopify_csv::DEFAULT_CATEGORY_COLUMN.to_string()),
    };
    let public = PublicDir::new(&options.public_dir);
    let plan = shopify_csv::parse(bytes, &parse_options, &|path| public.has(path))?;
    Ok(upsert::write(db, plan, options.skip_invalid).await?)
}

/// Tells instances listening on Redis about the changed products at once (they would otherwise
/// learn from the change log within seconds). Best effort: the log has them either way.
pub async fn announce(redis_url: &str, product_ids: &[i64]) {
    use app::storage::catalog_cache::CHANNEL;
    let publish = async {
        let redis = app::storage::redis::Redis::connect(redis_url, 1).await.map_err(|e| e.to_string())?;
        for id in product_ids {
            redis.publish(CHANNEL, &id.to_string()).await.map_err(|e| e.to_string())?;
        }
        Ok::<_, String>(())
    };
    match tokio::time::timeout(std::time::Duration::from_secs(10), publish).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "could not announce the import on Redis; instances follow the change log")
        }
        Err(_) => tracing::warn!("Redis did not answer; instances follow the change log"),
    }
}

/// The public folder, for checking picture paths.
struct PublicDir {
    root: Option<PathBuf>,
}

impl PublicDir {
    fn new(dir: &Path) -> PublicDir {
        PublicDir { root: dir.canonicalize().ok() }
    }

    /// Whether `path` (`/img/x.svg`, shape already checked) is a file inside the folder, links
    /// resolved.
    fn has(&self, path: &str) -> bool {
        let Some(root) = &self.root else { return false };
        match root.join(path.trim_start_matches('/')).canonicalize() {
            Ok(file) => file.starts_with(root) && file.is_file(),
            Err(_) => false,
        }
    }
}

/// The public folder when none is given: `public/` of the current folder (a checkout), else the
/// built site's root (`LEPTOS_SITE_ROOT`, as the server serves it).
pub fn default_public_dir() -> PathBuf {
    let public = PathBuf::from("public");
    if public.is_dir() {
        return public;
    }
    PathBuf::from(std::env::var("LEPTOS_SITE_ROOT").unwrap_or_else(|_| "target/site".into()))
}
