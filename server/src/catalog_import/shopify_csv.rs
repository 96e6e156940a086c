//! Shopify's product CSV read into an import plan: what each product and its variants should be,
//! and every refused row with its reason. No I/O and no database: the caller hands over the
//! file's bytes and says which local picture paths exist, so every rule can be tested here.
//!
//! The format: one row per variant. The first row of a handle also carries the product's own
//! columns (Title, Body (HTML), Type, Published, option names...); later rows of the handle only
//! variant columns. A later row with no variant column filled (typically Handle and Image Src) is
//! one more picture of the product: a product here has one picture, the first. Headers match by
//! name, trimmed and ignoring ASCII case; other columns are ignored.
//!
//! Choices worth knowing when reading a report:
//! - Amounts are `19`, `19.9` or `19.99`: no sign, no currency symbol, no thousands separator.
//!   `1,299.00` is refused rather than guessed at, since in many locales the comma is the decimal
//!   mark (Shopify itself writes `1299.00`).
//! - A blank Variant Inventory Qty is 0: Shopify leaves it blank for untracked stock, and selling
//!   what may not exist is the worse mistake.
//! - A compare-at price that is not above the price is no discount, and is dropped, as
//!   storefronts ignore it.
//! - A blank Variant SKU is derived from the handle and the option values, each made slug-like,
//!   joined by `-` (`merino-tee-m-navy`). A value with no letter or digit a-z/0-9 stands as 8 hex
//!   digits of its hash, and a SKU longer than 64 characters is cut to 55 and ends in `-` and 8
//!   hex digits of the whole's hash: the same file always gives the same SKUs.
//! - Text cells starting with `=`, `+`, `-` or `@` are refused: spreadsheets run them as formulas
//!   when the catalogue is exported and opened again (CSV injection).
//! - A file that is not UTF-8 is refused whole: it was saved in another encoding, and importing
//!   its plain-ASCII rows alone would only hide that.

use app::domain::catalog::{valid_slug, MAX_SLUG_BYTES};
use app::domain::catalog_edit::{parse_price, parse_stock, EditError, MAX_PRICE_CENTS, MAX_STOCK};
use html5ever::tendril::StrTendril;
use html5ever::tokenizer::{BufferQueue, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts};
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::fmt;

/// The largest file an import reads: far above any real catalogue export, and what bounds the
/// memory one import may take.
pub const MAX_FILE_BYTES: usize = 50 * 1024 * 1024;
/// The longest cell of any column; Body (HTML), the longest legitimate one, shares it.
pub const MAX_CELL_BYTES: usize = 64 * 1024;
pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_CATEGORY_CHARS: usize = 100;
pub const MAX_OPTION_CHARS: usize = 60;
pub const MAX_SKU_CHARS: usize = 64;
pub const MAX_IMAGE_BYTES: usize = 2048;
/// The category of products whose category cell is blank.
pub const UNCATEGORISED: &str = "Uncategorised";
pub const DEFAULT_CATEGORY_COLUMN: &str = "Type";
/// How much of a refused cell a reason quotes: enough to find it, never a whole hostile cell.
const QUOTE_CHARS: usize = 40;
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Why a whole file is refused (nothing of it is imported).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    #[error("the file is {0} bytes; the most an import reads is {MAX_FILE_BYTES} (50 MiB)")]
    TooLarge(usize),
    #[error("the file is empty: it has no header row")]
    NoHeader,
    #[error("the header has no {0:?} column: is this Shopify's product CSV?")]
    MissingColumn(String),
    #[error("the header has the column {0:?} more than once")]
    DuplicateColumn(String),
    #[error(
        "line {line}: column {column:?} is not UTF-8 text; save the file as UTF-8 (CSV UTF-8) and import it again"
    )]
    NotUtf8 { line: u64, column: String },
    #[error("line {line}: {message}")]
    Csv { line: u64, message: String },
}

/// A refused row: `line` is the file's physical line where the row starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub line: u64,
    pub reason: String,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

/// A product left out because one of its rows was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub handle: String,
    /// Its first row.
    pub line: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseOptions {
    /// The header of the column naming each product's category.
    pub category_column: String,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions { category_column: DEFAULT_CATEGORY_COLUMN.to_string() }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariantPlan {
    pub line: u64,
    pub sku: String,
    pub options: [String; 3],
    pub price_cents: i64,
    pub compare_at_cents: Option<i64>,
    pub stock: i64,
    /// `Variant Grams`, for shipping by weight (0 when not given).
    pub weight_grams: i64,
    /// Empty: the product's picture.
    pub image: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductPlan {
    /// The product's first row.
    pub line: u64,
    pub slug: String,
    pub name: String,
    /// Plain text of the description (search, meta tags).
    pub description: String,
    /// The description's HTML, sanitised.
    pub description_html: String,
    pub category: String,
    pub active: bool,
    /// Empty when the file gives no picture.
    pub image: String,
    /// Empty names: options not used. A product without options has one variant with none.
    pub option_names: [String; 3],
    pub variants: Vec<VariantPlan>,
}

/// What a file asks for: the products with no refused row, in file order, and the refusals.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Data rows read (the header and blank rows not counted).
    pub rows: usize,
    pub products: Vec<ProductPlan>,
    /// Sorted by line.
    pub rejected: Vec<Rejection>,
    pub skipped: Vec<Skipped>,
}

/// The picture of a product whose rows name none (shipped in `public/img`).
pub const PLACEHOLDER_IMAGE: &str = "/img/placeholder.svg";

/// Reads a Shopify product CSV. `local_image_exists` answers for picture paths such as
/// `/img/shoes-1.svg` (already checked for shape: it only has to say whether the file is there).
pub fn parse(
    bytes: &[u8],
    options: &ParseOptions,
    local_image_exists: &dyn Fn(&str) -> bool,
) -> Result<Plan, FileError> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(FileError::TooLarge(bytes.len()));
    }
    // Excel's "CSV UTF-8" starts with a byte order mark, which would otherwise stick to "Handle".
    let bytes = bytes.strip_prefix(BOM).unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(bytes);
    let mut record = csv::ByteRecord::new();
    if !reader.read_byte_record(&mut record).map_err(csv_error)? {
        return Err(FileError::NoHeader);
    }
    let mut lines = Lines { bytes, at: 0, line: 1 };
    let header_line = lines.of(&record);
    let header: Vec<String> = record
        .iter()
        .enumerate()
        .map(|(i, cell)| {
            std::str::from_utf8(cell)
                .map(|s| s.trim().to_string())
                .map_err(|_| FileError::NotUtf8 { line: header_line, column: format!("#{}", i + 1) })
        })
        .collect::<Result<_, _>>()?;
    let columns = Columns::find(&header, &options.category_column)?;
    let mut parser = Parser {
        columns,
        header,
        local_image_exists,
        groups: Vec::new(),
        by_handle: HashMap::new(),
        loose: Vec::new(),
        rows: 0,
    };
    while reader.read_byte_record(&mut record).map_err(csv_error)? {
        let line = lines.of(&record);
        let mut cells = Vec::with_capacity(record.len());
        for (i, cell) in record.iter().enumerate() {
            match std::str::from_utf8(cell) {
                Ok(s) => cells.push(s),
                Err(_) => return Err(FileError::NotUtf8 { line, column: parser.column_name(i) }),
            }
        }
        parser.row(line, &cells);
    }
    Ok(parser.finish())
}

/// The physical line where each record starts. The csv crate's own count is one short after a
/// CRLF (it ends a record at the CR and reads the LF with the next record), so lines are counted
/// here from the record's byte offset, past any line ends before it.
struct Lines<'a> {
    bytes: &'a [u8],
    /// Offset up to which `line` counts.
    at: usize,
    line: u64,
}

impl Lines<'_> {
    fn of(&mut self, record: &csv::ByteRecord) -> u64 {
        let mut start = record.position().map_or(self.at, |p| p.byte() as usize).clamp(self.at, self.bytes.len());
        while matches!(self.bytes.get(start), Some(b'\r' | b'\n')) {
            start += 1;
        }
        self.line += self.bytes[self.at..start].iter().filter(|&&b| b == b'\n').count() as u64;
        self.at = start;
        self.line
    }
}

fn csv_error(e: csv::Error) -> FileError {
    FileError::Csv { line: e.position().map(|p| p.line()).unwrap_or(0), message: e.to_string() }
}

/// Where each column the import reads sits in a row.
#[derive(Debug)]
struct Columns {
    handle: usize,
    title: usize,
    body: Option<usize>,
    category: Option<usize>,
    published: Option<usize>,
    status: Option<usize>,
    option_names: [Option<usize>; 3],
    option_values: [Option<usize>; 3],
    sku: Option<usize>,
    price: usize,
    compare_at: Option<usize>,
    qty: Option<usize>,
    grams: Option<usize>,
    image: Option<usize>,
    variant_image: Option<usize>,
}

impl Columns {
    fn find(header: &[String], category_column: &str) -> Result<Columns, FileError> {
        let find = |name: &str| -> Result<Option<usize>, FileError> {
            let mut at = header.iter().enumerate().filter(|(_, h)| h.eq_ignore_ascii_case(name.trim())).map(|(i, _)| i);
            let first = at.next();
            if at.next().is_some() {
                return Err(FileError::DuplicateColumn(name.trim().to_string()));
            }
            Ok(first)
        };
        let required = |name: &str| find(name)?.ok_or_else(|| FileError::MissingColumn(name.to_string()));
        let category = match find(category_column)? {
            // Without Shopify's usual column every product is uncategorised; a column asked for
            // by name must be there.
            None if !category_column.trim().eq_ignore_ascii_case(DEFAULT_CATEGORY_COLUMN) => {
                return Err(FileError::MissingColumn(category_column.trim().to_string()))
            }
            found => found,
        };
        Ok(Columns {
            handle: required("Handle")?,
            title: required("Title")?,
            body: find("Body (HTML)")?,
            category,
            published: find("Published")?,
            status: find("Status")?,
            option_names: [find("Option1 Name")?, find("Option2 Name")?, find("Option3 Name")?],
            option_values: [find("Option1 Value")?, find("Option2 Value")?, find("Option3 Value")?],
            sku: find("Variant SKU")?,
            price: required("Variant Price")?,
            compare_at: find("Variant Compare At Price")?,
            qty: find("Variant Inventory Qty")?,
            grams: find("Variant Grams")?,
            image: find("Image Src")?,
            variant_image: find("Variant Image")?,
        })
    }
}

/// A row's cells; missing trailing cells read as empty.
struct Cells<'a, 'b> {
    cells: &'b [&'a str],
}

impl<'a> Cells<'a, '_> {
    fn raw(&self, at: Option<usize>) -> &'a str {
        at.and_then(|i| self.cells.get(i)).copied().unwrap_or("")
    }

    fn get(&self, at: Option<usize>) -> &'a str {
        self.raw(at).trim()
    }
}

/// The product columns of a handle's first row.
struct Head {
    name: String,
    description: String,
    description_html: String,
    category: String,
    active: bool,
    option_names: [String; 3],
}

struct Group {
    handle: String,
    first_line: u64,
    rows: usize,
    head: Option<Head>,
    variants: Vec<VariantPlan>,
    images: Vec<String>,
    rejected: BTreeMap<u64, Vec<String>>,
}

struct Parser<'f> {
    columns: Columns,
    header: Vec<String>,
    local_image_exists: &'f dyn Fn(&str) -> bool,
    groups: Vec<Group>,
    by_handle: HashMap<String, usize>,
    /// Refused rows that belong to no product (no handle).
    loose: Vec<Rejection>,
    rows: usize,
}

impl Parser<'_> {
    fn column_name(&self, i: usize) -> String {
        match self.header.get(i) {
            Some(name) if !name.is_empty() => name.clone(),
            _ => format!("#{}", i + 1),
        }
    }

    fn row(&mut self, line: u64, cells: &[&str]) {
        if cells.iter().all(|c| c.trim().is_empty()) {
            return;
        }
        self.rows += 1;
        let row = Cells { cells };
        let handle = row.get(Some(self.columns.handle));
        // Said before anything else: nothing of an oversized cell is worth reading.
        let oversized = cells.iter().enumerate().find(|(_, c)| c.len() > MAX_CELL_BYTES).map(|(i, c)| {
            format!("the cell in column {:?} is {} bytes; the most is {MAX_CELL_BYTES}", self.column_name(i), c.len())
        });
        if handle.is_empty() || handle.len() > MAX_CELL_BYTES {
            let reason = oversized.unwrap_or_else(|| "no Handle".to_string());
            self.loose.push(Rejection { line, reason });
            return;
        }
        let index = match self.by_handle.get(handle) {
            Some(&i) => i,
            None => {
                self.groups.push(Group {
                    handle: handle.to_string(),
                    first_line: line,
                    rows: 0,
                    head: None,
                    variants: Vec::new(),
                    images: Vec::new(),
                    rejected: BTreeMap::new(),
                });
                self.by_handle.insert(handle.to_string(), self.groups.len() - 1);
                self.groups.len() - 1
            }
        };
        let group = &mut self.groups[index];
        group.rows += 1;
        let first = group.rows == 1;
        let mut reasons = Vec::new();
        if let Some(reason) = oversized {
            reasons.push(reason);
        } else if cells.len() > self.header.len() && cells[self.header.len()..].iter().any(|c| !c.trim().is_empty()) {
            reasons.push(format!(
                "{} cells where the header has {} (a quote out of place?)",
                cells.len(),
                self.header.len()
            ));
        } else if !valid_slug(handle) {
            reasons.push(format!(
                "Handle {} is not a slug: 1 to {MAX_SLUG_BYTES} lowercase letters a-z, digits, '-' or '_'",
                quote(handle)
            ));
        } else {
            let c = &self.columns;
            if first {
                match head(c, &row) {
                    Ok(h) => group.head = Some(h),
                    Err(mut r) => reasons.append(&mut r),
                }
            }
            let names = group.head.as_ref().map(|h| h.option_names.clone());
            if first || has_variant_data(c, &row) {
                match variant(c, &row, line, handle, names.as_ref(), self.local_image_exists) {
                    Ok(v) if reasons.is_empty() => group.variants.push(v),
                    Ok(_) => {}
                    Err(mut r) => reasons.append(&mut r),
                }
            }
            let image = row.get(c.image);
            if !image.is_empty() {
                match check_image("Image Src", image, self.local_image_exists) {
                    Ok(image) => group.images.push(image),
                    Err(r) => reasons.push(r),
                }
            }
        }
        if !reasons.is_empty() {
            group.rejected.entry(line).or_default().append(&mut reasons);
        }
    }

    fn finish(mut self) -> Plan {
        for group in &mut self.groups {
            duplicate_options(group);
        }
        duplicate_skus(&mut self.groups);
        let mut plan = Plan { rows: self.rows, rejected: self.loose, ..Plan::default() };
        for group in self.groups {
            if !group.rejected.is_empty() {
                plan.skipped.push(Skipped { handle: group.handle, line: group.first_line });
                for (line, reasons) in group.rejected {
                    plan.rejected.push(Rejection { line, reason: reasons.join("; ") });
                }
                continue;
            }
            let Some(head) = group.head else { continue };
            let image = group
                .images
                .first()
                .or_else(|| group.variants.iter().map(|v| &v.image).find(|i| !i.is_empty()))
                .cloned()
                // A product without a picture still shows a frame rather than a broken image.
                .unwrap_or_else(|| PLACEHOLDER_IMAGE.to_string());
            plan.products.push(ProductPlan {
                line: group.first_line,
                slug: group.handle,
                name: head.name,
                description: head.description,
                description_html: head.description_html,
                category: head.category,
                active: head.active,
                image,
                option_names: head.option_names,
                variants: group.variants,
            });
        }
        plan.rejected.sort_by_key(|r| r.line);
        plan
    }
}

fn has_variant_data(c: &Columns, row: &Cells) -> bool {
    c.option_values
        .iter()
        .chain([&c.sku, &c.compare_at, &c.qty, &c.variant_image])
        .map(|&at| row.get(at))
        .chain([row.get(Some(c.price))])
        .any(|v| !v.is_empty())
}

fn head(c: &Columns, row: &Cells) -> Result<Head, Vec<String>> {
    let mut reasons = Vec::new();
    let name = row.get(Some(c.title));
    if name.is_empty() {
        reasons.push("no Title on the product's first row".to_string());
    }
    note(&mut reasons, check_text("Title", name, MAX_TITLE_CHARS));
    let body = row.raw(c.body);
    if looks_like_formula(body) {
        reasons.push(format!("Body (HTML) {} looks like a spreadsheet formula", quote(body.trim())));
    }
    let category = match row.get(c.category) {
        "" => UNCATEGORISED,
        given => given,
    };
    note(&mut reasons, check_text("the category", category, MAX_CATEGORY_CHARS));
    let published = match row.get(c.published).to_ascii_lowercase().as_str() {
        "" | "true" | "yes" | "1" => true,
        "false" | "no" | "0" => false,
        _ => {
            reasons.push(format!("Published {} is neither true nor false", quote(row.get(c.published))));
            true
        }
    };
    let status_active = match row.get(c.status).to_ascii_lowercase().as_str() {
        "" | "active" => true,
        "draft" | "archived" => false,
        _ => {
            reasons.push(format!("Status {} is not active, draft or archived", quote(row.get(c.status))));
            true
        }
    };
    let mut names: [String; 3] = c.option_names.map(|at| row.get(at).to_string());
    // How Shopify writes a product without options.
    if names[0].eq_ignore_ascii_case("Title")
        && row.get(c.option_values[0]) == "Default Title"
        && names[1..].iter().all(String::is_empty)
    {
        names[0].clear();
    }
    for i in 0..3 {
        note(&mut reasons, check_text(&format!("Option{} Name", i + 1), &names[i], MAX_OPTION_CHARS));
        if i > 0 && !names[i].is_empty() && names[i - 1].is_empty() {
            reasons.push(format!("Option{} Name without Option{} Name", i + 1, i));
        }
        if !names[i].is_empty() && names[..i].iter().any(|n| n.eq_ignore_ascii_case(&names[i])) {
            reasons.push(format!("the option {} is named twice", quote(&names[i])));
        }
    }
    if !reasons.is_empty() {
        return Err(reasons);
    }
    let description_html = if body.trim().is_empty() { String::new() } else { ammonia::clean(body) };
    Ok(Head {
        name: name.to_string(),
        description: plain_text(&description_html),
        description_html,
        category: category.to_string(),
        active: published && status_active,
        option_names: names,
    })
}

/// A variant row. `names` are the product's option names, unknown when its first row was refused.
fn variant(
    c: &Columns,
    row: &Cells,
    line: u64,
    handle: &str,
    names: Option<&[String; 3]>,
    local_image_exists: &dyn Fn(&str) -> bool,
) -> Result<VariantPlan, Vec<String>> {
    let mut reasons = Vec::new();
    let mut options: [String; 3] = Default::default();
    for i in 0..3 {
        let value = row.get(c.option_values[i]);
        let label = format!("Option{} Value", i + 1);
        match names.map(|n| n[i].as_str()) {
            Some("") => {
                // Shopify's placeholder value of a product without options.
                let placeholder = i == 0 && value == "Default Title";
                if !(value.is_empty() || placeholder) {
                    reasons.push(format!("{label} {} but the product has no Option{} Name", quote(value), i + 1));
                }
            }
            Some(name) if value.is_empty() => reasons.push(format!("missing {label} ({name})")),
            _ => {
                note(&mut reasons, check_text(&label, value, MAX_OPTION_CHARS));
                options[i] = value.to_string();
            }
        }
    }
    let sku = row.get(c.sku);
    note(&mut reasons, check_text("Variant SKU", sku, MAX_SKU_CHARS));
    let price = match row.get(Some(c.price)) {
        "" => {
            reasons.push("missing Variant Price".to_string());
            None
        }
        given => amount("Variant Price", given).map_err(|r| reasons.push(r)).ok(),
    };
    let compare_at = match row.get(c.compare_at) {
        "" => None,
        given => amount("Variant Compare At Price", given).map_err(|r| reasons.push(r)).ok(),
    };
    let stock = match row.get(c.qty) {
        "" => Some(0),
        given => quantity(given).map_err(|r| reasons.push(r)).ok(),
    };
    let weight_grams = match row.get(c.grams) {
        "" => 0,
        given => grams(given).map_err(|r| reasons.push(r)).unwrap_or(0),
    };
    let image = match row.get(c.variant_image) {
        "" => String::new(),
        given => {
            check_image("Variant Image", given, local_image_exists).map_err(|r| reasons.push(r)).unwrap_or_default()
        }
    };
    match (price, stock) {
        (Some(price_cents), Some(stock)) if reasons.is_empty() => Ok(VariantPlan {
            line,
            sku: if sku.is_empty() { derived_sku(handle, &options) } else { sku.to_string() },
            price_cents,
            compare_at_cents: compare_at.filter(|&c| c > price_cents),
            stock,
            weight_grams,
            image,
            options,
        }),
        _ => Err(reasons),
    }
}

fn note(reasons: &mut Vec<String>, check: Result<(), String>) {
    if let Err(reason) = check {
        reasons.push(reason);
    }
}

/// A one-line text cell: bounded, no control characters, not a formula.
fn check_text(label: &str, value: &str, max_chars: usize) -> Result<(), String> {
    let chars = value.chars().count();
    if chars > max_chars {
        return Err(format!("{label} is {chars} characters; the most is {max_chars}"));
    }
    if value.chars().any(char::is_control) {
        return Err(format!("{label} {} contains a control character (a line break?)", quote(value)));
    }
    if looks_like_formula(value) {
        return Err(format!("{label} {} looks like a spreadsheet formula", quote(value)));
    }
    Ok(())
}

pub fn looks_like_formula(value: &str) -> bool {
    matches!(value.trim_start().chars().next(), Some('=' | '+' | '-' | '@'))
}

/// `s` quoted for a report: escaped (a cell cannot send the terminal control sequences), and
/// cut short when long.
pub fn quote(s: &str) -> String {
    if s.chars().count() > QUOTE_CHARS {
        let cut: String = s.chars().take(QUOTE_CHARS).collect();
        format!("{cut:?}…")
    } else {
        format!("{s:?}")
    }
}

/// An amount in cents (see the module's notes for the accepted forms).
pub fn amount(label: &str, given: &str) -> Result<i64, String> {
    if given.starts_with('-') {
        return Err(format!("{label} {} is negative", quote(given)));
    }
    if given.contains(',') {
        return Err(format!("{label} {}: write amounts with a dot and no thousands separator (1299.00)", quote(given)));
    }
    parse_price(given).map_err(|e| match e {
        EditError::PriceRange => format!("{label} {} is more than {}.00", quote(given), MAX_PRICE_CENTS / 100),
        _ => format!("{label} {} is not an amount such as 19.99 (at most two decimals)", quote(given)),
    })
}

pub fn quantity(given: &str) -> Result<i64, String> {
    if given.starts_with('-') {
        return Err(format!("Variant Inventory Qty {} is negative", quote(given)));
    }
    parse_stock(given).map_err(|e| match e {
        EditError::StockRange => format!("Variant Inventory Qty {} is more than {MAX_STOCK}", quote(given)),
        _ => format!("Variant Inventory Qty {} is not a whole number", quote(given)),
    })
}

/// The heaviest variant accepted, in grams (a tonne): beyond it a typo is likelier.
const MAX_GRAMS: i64 = 1_000_000;

/// `Variant Grams`: a whole number of grams (Shopify writes "500" or "500.0").
pub fn grams(given: &str) -> Result<i64, String> {
    let whole = given.trim().strip_suffix(".0").unwrap_or(given.trim());
    match whole.parse::<i64>() {
        Ok(g) if (0..=MAX_GRAMS).contains(&g) => Ok(g),
        Ok(_) => Err(format!("Variant Grams {} is not between 0 and {MAX_GRAMS}", quote(given))),
        Err(_) => Err(format!("Variant Grams {} is not a whole number of grams", quote(given))),
    }
}

/// A picture: an http(s) URL (stored as parsed), or a path of a file under the public folder.
fn check_image(label: &str, given: &str, local_image_exists: &dyn Fn(&str) -> bool) -> Result<String, String> {
    if given.len() > MAX_IMAGE_BYTES {
        return Err(format!("{label} is {} bytes; the most is {MAX_IMAGE_BYTES}", given.len()));
    }
    let lower = given.get(..8).unwrap_or(given).to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        let url = url::Url::parse(given).map_err(|e| format!("{label} {} is not a URL: {e}", quote(given)))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
            return Err(format!("{label} {} is not an http(s) URL with a host", quote(given)));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(format!("{label} {} carries a user name or password", quote(given)));
        }
        return Ok(url.to_string());
    }
    // A path is a file of the shop's public folder: one shape only, so no "//host" (a URL
    // without scheme), no "..", no query or escapes that the file system would read otherwise.
    let path_shape = given.starts_with('/')
        && !given.starts_with("//")
        && given.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'-' | b'_'))
        && given.split('/').all(|segment| segment != ".." && segment != ".")
        && !given.contains("//");
    if !path_shape {
        return Err(format!(
            "{label} {} must be an http(s) URL or a path of the public folder such as /img/shoes-1.svg",
            quote(given)
        ));
    }
    if !local_image_exists(given) {
        return Err(format!("{label} {}: no such file in the public folder", quote(given)));
    }
    Ok(given.to_string())
}

/// Two variants of one product with the same options: the later row is refused.
fn duplicate_options(group: &mut Group) {
    let mut seen: HashMap<&[String; 3], u64> = HashMap::new();
    for v in &group.variants {
        match seen.get(&v.options) {
            Some(&first) => {
                let reason = if v.options.iter().all(String::is_empty) {
                    format!("a second variant of a product without options (line {first} is its variant)")
                } else {
                    format!(
                        "the same options as line {first} ({})",
                        v.options.iter().filter(|o| !o.is_empty()).map(String::as_str).collect::<Vec<_>>().join(" / ")
                    )
                };
                group.rejected.entry(v.line).or_default().push(reason);
            }
            None => {
                seen.insert(&v.options, v.line);
            }
        }
    }
}

/// A SKU used twice in the file: every later row using it is refused.
fn duplicate_skus(groups: &mut [Group]) {
    let mut all: Vec<(u64, String, usize)> = groups
        .iter()
        .enumerate()
        .flat_map(|(g, group)| group.variants.iter().map(move |v| (v.line, v.sku.clone(), g)))
        .collect();
    all.sort();
    let mut first_line: HashMap<&str, u64> = HashMap::new();
    let mut refused = Vec::new();
    for (line, sku, g) in &all {
        match first_line.get(sku.as_str()) {
            Some(&first) => refused.push((*g, *line, format!("SKU {} is already used on line {first}", quote(sku)))),
            None => {
                first_line.insert(sku.as_str(), *line);
            }
        }
    }
    for (g, line, reason) in refused {
        groups[g].rejected.entry(line).or_default().push(reason);
    }
}

/// `text` made slug-like: lowercase a-z and 0-9, runs of anything else one `-`.
fn slug_part(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        if ch.is_ascii_alphanumeric() {
            out.push(ch.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    out
}

/// The slug of a category named `name` ("Home & Decor" → "home-decor"); a name with no letter or
/// digit a-z/0-9 gets "category-" and 8 hex digits of its hash.
pub fn category_slug(name: &str) -> String {
    let slug = slug_part(name);
    if slug.is_empty() {
        return format!("category-{:08x}", fnv1a(name) as u32);
    }
    slug.chars().take(MAX_SLUG_BYTES).collect()
}

/// The SKU of a variant the file gives none (see the module's notes).
pub fn derived_sku(handle: &str, options: &[String; 3]) -> String {
    let mut sku = handle.to_string();
    for value in options.iter().filter(|v| !v.is_empty()) {
        let part = slug_part(value);
        sku.push('-');
        if part.is_empty() {
            sku.push_str(&format!("{:08x}", fnv1a(value) as u32));
        } else {
            sku.push_str(&part);
        }
    }
    if sku.len() > MAX_SKU_CHARS {
        let hash = fnv1a(&sku) as u32;
        // ASCII only (a slug and slug parts), so any byte index is a character boundary.
        sku.truncate(MAX_SKU_CHARS - 9);
        let kept = sku.trim_end_matches('-');
        return format!("{kept}-{hash:08x}");
    }
    sku
}

/// FNV-1a: a stable hash (unlike std's, which may change between Rust releases), for derived
/// names that must be the same on every import.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// The text of sanitised HTML: entities decoded, block boundaries a space, whitespace collapsed.
/// Only for `ammonia`'s output, which has no script or style left whose content would count.
pub fn plain_text(html: &str) -> String {
    #[derive(Default)]
    struct Text(RefCell<String>);
    impl TokenSink for Text {
        type Handle = ();
        fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
            match token {
                Token::CharacterTokens(text) => self.0.borrow_mut().push_str(&text),
                // "<p>a</p><p>b</p>" is "a b", but "<b>A</b>BC" is "ABC".
                Token::TagToken(tag) if !is_inline(&tag.name) => self.0.borrow_mut().push(' '),
                _ => {}
            }
            TokenSinkResult::Continue
        }
    }
    let tokenizer = Tokenizer::new(Text::default(), TokenizerOpts::default());
    let input = BufferQueue::default();
    input.push_back(StrTendril::from_slice(html));
    let _ = tokenizer.feed(&input);
    tokenizer.end();
    let text = tokenizer.sink.0.take();
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn is_inline(tag: &str) -> bool {
    matches!(
        tag,
        "a" | "abbr"
            | "acronym"
            | "b"
            | "bdi"
            | "bdo"
            | "big"
            | "cite"
            | "code"
            | "data"
            | "del"
            | "dfn"
            | "em"
            | "font"
            | "i"
            | "ins"
            | "kbd"
            | "mark"
            | "q"
            | "s"
            | "samp"
            | "small"
            | "span"
            | "strike"
            | "strong"
            | "sub"
            | "sup"
            | "time"
            | "tt"
            | "u"
            | "var"
            | "wbr"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const HEADER: [&str; 21] = [
        "Handle",
        "Title",
        "Body (HTML)",
        "Vendor",
        "Type",
        "Tags",
        "Published",
        "Option1 Name",
        "Option1 Value",
        "Option2 Name",
        "Option2 Value",
        "Option3 Name",
        "Option3 Value",
        "Variant SKU",
        "Variant Inventory Qty",
        "Variant Price",
        "Variant Compare At Price",
        "Image Src",
        "Variant Image",
        "Status",
        "Variant Grams",
    ];

    /// A file in Shopify's layout, each row given as (column, value) pairs, written by the csv
    /// crate (so quoting is right whatever the values).
    fn file(rows: &[&[(&str, &str)]]) -> Vec<u8> {
        let mut out = csv::WriterBuilder::new().terminator(csv::Terminator::Any(b'\n')).from_writer(Vec::new());
        out.write_record(HEADER).unwrap();
        for row in rows {
            let mut cells = vec![""; HEADER.len()];
            for (column, value) in row.iter() {
                let at = HEADER.iter().position(|h| h == column).unwrap_or_else(|| panic!("no column {column}"));
                cells[at] = value;
            }
            out.write_record(&cells).unwrap();
        }
        out.into_inner().unwrap()
    }

    fn exists(path: &str) -> bool {
        matches!(path, "/img/apparel-1.svg" | "/img/apparel-2.svg" | "/img/shoes-1.svg")
    }

    fn plan_of(bytes: &[u8]) -> Plan {
        parse(bytes, &ParseOptions::default(), &exists).expect("a readable file")
    }

    /// The reasons given for `line`.
    fn reason(plan: &Plan, line: u64) -> String {
        let found: Vec<&str> = plan.rejected.iter().filter(|r| r.line == line).map(|r| r.reason.as_str()).collect();
        assert!(!found.is_empty(), "line {line} is not rejected: {:?}", plan.rejected);
        found.join("; ")
    }

    fn tee<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        let mut row = vec![
            ("Handle", "tee"),
            ("Title", "Tee"),
            ("Type", "Apparel"),
            ("Option1 Name", "Size"),
            ("Option1 Value", "M"),
            ("Variant SKU", "TEE-M"),
            ("Variant Price", "19.99"),
            ("Variant Inventory Qty", "5"),
            ("Image Src", "/img/apparel-1.svg"),
        ];
        for (column, value) in extra {
            match row.iter_mut().find(|(c, _)| c == column) {
                Some(cell) => cell.1 = value,
                None => row.push((column, value)),
            }
        }
        row
    }

    #[test]
    fn a_product_with_continuation_rows_and_an_extra_picture() {
        let plan = plan_of(&file(&[
            &[
                ("Handle", "tee"),
                ("Title", "Merino Tee"),
                ("Body (HTML)", "<p>Soft <b>merino</b>.</p><ul><li>Warm</li><li>Light</li></ul>"),
                ("Type", "Apparel"),
                ("Published", "TRUE"),
                ("Option1 Name", "Size"),
                ("Option1 Value", "M"),
                ("Option2 Name", "Colour"),
                ("Option2 Value", "Navy"),
                ("Variant SKU", "TEE-M-NAVY"),
                ("Variant Inventory Qty", "3"),
                ("Variant Price", "38"),
                ("Variant Compare At Price", "45.00"),
                ("Image Src", "/img/apparel-1.svg"),
                ("Status", "active"),
            ],
            &[
                ("Handle", "tee"),
                ("Option1 Value", "L"),
                ("Option2 Value", "Navy"),
                ("Variant SKU", "TEE-L-NAVY"),
                ("Variant Inventory Qty", "0"),
                ("Variant Price", "40.50"),
                ("Variant Image", "/img/apparel-2.svg"),
            ],
            &[("Handle", "tee"), ("Image Src", "https://cdn.example.com/tee-back.jpg?v=2")],
        ]));
        assert_eq!(plan.rejected, vec![]);
        assert_eq!(plan.rows, 3);
        let [p] = plan.products.as_slice() else { panic!("{plan:?}") };
        assert_eq!(
            (p.slug.as_str(), p.name.as_str(), p.category.as_str(), p.active),
            ("tee", "Merino Tee", "Apparel", true)
        );
        assert_eq!(p.option_names, ["Size".to_string(), "Colour".to_string(), String::new()]);
        assert_eq!(p.image, "/img/apparel-1.svg", "the first picture is the product's");
        assert_eq!(p.description, "Soft merino. Warm Light");
        assert_eq!(p.description_html, "<p>Soft <b>merino</b>.</p><ul><li>Warm</li><li>Light</li></ul>");
        let v: Vec<_> = p
            .variants
            .iter()
            .map(|v| {
                (
                    v.line,
                    v.sku.as_str(),
                    v.options[0].as_str(),
                    v.price_cents,
                    v.compare_at_cents,
                    v.stock,
                    v.image.as_str(),
                )
            })
            .collect();
        assert_eq!(
            v,
            vec![
                (2, "TEE-M-NAVY", "M", 3800, Some(4500), 3, ""),
                (3, "TEE-L-NAVY", "L", 4050, None, 0, "/img/apparel-2.svg"),
            ]
        );
    }

    #[test]
    fn a_product_without_options_is_one_variant_with_none() {
        let plan = plan_of(&file(&[&[
            ("Handle", "mug"),
            ("Title", "Mug"),
            ("Option1 Name", "Title"),
            ("Option1 Value", "Default Title"),
            ("Variant SKU", "MUG"),
            ("Variant Price", "12"),
        ]]));
        let [p] = plan.products.as_slice() else { panic!("{plan:?}") };
        assert_eq!(p.option_names, <[String; 3]>::default());
        assert_eq!(p.variants[0].options, <[String; 3]>::default());
        // No picture in the file: the placeholder, not a broken image.
        assert_eq!((p.category.as_str(), p.image.as_str(), p.variants[0].stock), (UNCATEGORISED, PLACEHOLDER_IMAGE, 0));

        let plan = plan_of(&file(&[
            &[
                ("Handle", "mug"),
                ("Title", "Mug"),
                ("Option1 Name", "Title"),
                ("Option1 Value", "Default Title"),
                ("Variant Price", "12"),
            ],
            &[("Handle", "mug"), ("Variant SKU", "MUG-2"), ("Variant Price", "13")],
        ]));
        assert!(reason(&plan, 3).contains("a second variant of a product without options (line 2"), "{plan:?}");
        assert_eq!(plan.skipped, vec![Skipped { handle: "mug".into(), line: 2 }]);
        assert!(plan.products.is_empty());
    }

    #[test]
    fn quoted_cells_with_commas_quotes_and_line_breaks() {
        let csv = "Handle,Title,Body (HTML),Option1 Name,Option1 Value,Variant SKU,Variant Price\n\
                   pan,\"Pan, \"\"cast\"\" iron\",\"<p>Line one,\nline \"\"two\"\"</p>\n<p>Three</p>\",Size,\"10\"\"\",PAN-10,30\n\
                   pan,,,,\"12\"\"\",PAN-12,35.5\n\
                   bad,Bad,,,,BAD,abc\n";
        let plan = plan_of(csv.as_bytes());
        let p = &plan.products[0];
        assert_eq!(p.name, "Pan, \"cast\" iron");
        assert_eq!(p.description, "Line one, line \"two\" Three");
        assert_eq!(p.variants.iter().map(|v| v.options[0].as_str()).collect::<Vec<_>>(), ["10\"", "12\""]);
        // The first record spans lines 2 to 4: the next starts on line 5, the bad one on 6.
        assert_eq!(p.variants[1].line, 5);
        assert!(reason(&plan, 6).contains("Variant Price \"abc\""));
    }

    #[test]
    fn a_byte_order_mark_and_crlf_line_ends_read_the_same() {
        let lf = "Handle,Title,Body (HTML),Variant Price\nmug,Mug,\"<p>a\nb</p>\",3\nbowl,Bowl,,4\n";
        let crlf = format!("\u{FEFF}{}", lf.replace('\n', "\r\n"));
        let (a, b) = (plan_of(lf.as_bytes()), plan_of(crlf.as_bytes()));
        assert_eq!(a.products.len(), 2);
        assert_eq!(a.products[1].line, 4);
        assert_eq!(b.products[1].line, 4);
        assert_eq!(a.products[0].description, "a b");
        assert_eq!(b.products[0].description, "a b");
        assert_eq!(a.products[1].slug, b.products[1].slug, "the mark does not stick to Handle");
    }

    #[test]
    fn line_numbers_count_blank_lines_and_lines_inside_cells() {
        // Header on line 1, a blank line, a record on lines 3 to 5, two blank lines, line 8.
        let csv =
            "Handle,Title,Body (HTML),Variant Price\r\n\r\nmug,Mug,\"<p>a\r\n\r\nb</p>\",3\r\n\r\n\r\nbowl,Bowl,,x\r\n";
        let plan = plan_of(csv.as_bytes());
        assert_eq!(plan.products[0].line, 3);
        assert!(reason(&plan, 8).starts_with("Variant Price \"x\""), "{:?}", plan.rejected);
        let lf = csv.replace("\r\n", "\n");
        let plan = plan_of(lf.as_bytes());
        assert_eq!((plan.products[0].line, plan.rejected[0].line), (3, 8));
    }

    #[test]
    fn headers_match_by_name_whatever_their_order_case_and_spaces_and_others_are_ignored() {
        let csv = "Variant Grams, variant price ,SEO Title,TITLE,handle,Gift Card\n500,7.25,Buy me,Soap,soap,false\n";
        let plan = plan_of(csv.as_bytes());
        let p = &plan.products[0];
        assert_eq!((p.slug.as_str(), p.name.as_str(), p.variants[0].price_cents), ("soap", "Soap", 725));
        assert_eq!(p.variants[0].sku, "soap", "a blank SKU is derived from the handle");
    }

    #[test]
    fn files_that_are_not_shopify_product_csv_are_refused_whole() {
        let refuse = |csv: &str| parse(csv.as_bytes(), &ParseOptions::default(), &exists).unwrap_err();
        assert_eq!(refuse(""), FileError::NoHeader);
        assert_eq!(refuse("Title,Variant Price\nx,1\n"), FileError::MissingColumn("Handle".into()));
        assert_eq!(refuse("Handle,Title\nx,X\n"), FileError::MissingColumn("Variant Price".into()));
        assert_eq!(refuse("Handle,Title,Variant Price,Handle\n"), FileError::DuplicateColumn("Handle".into()));
        let custom = ParseOptions { category_column: "Product Category".into() };
        assert_eq!(
            parse(b"Handle,Title,Variant Price\n", &custom, &exists).unwrap_err(),
            FileError::MissingColumn("Product Category".into())
        );
        let plan = parse(b"Handle,Title,Variant Price,Product Category,Type\nx,X,1,Gifts,Ignored\n", &custom, &exists)
            .unwrap();
        assert_eq!(plan.products[0].category, "Gifts");
    }

    #[test]
    fn prices_are_exact_cents() {
        for (given, cents) in
            [("19.99", 1999), ("19", 1900), ("19.9", 1990), ("0.07", 7), ("1000000.00", MAX_PRICE_CENTS)]
        {
            assert_eq!(amount("Variant Price", given), Ok(cents), "{given}");
        }
        for (given, why) in [
            ("-5", "is negative"),
            ("abc", "not an amount"),
            ("19.999", "at most two decimals"),
            ("$19", "not an amount"),
            ("1,299.00", "no thousands separator"),
            ("1e3", "not an amount"),
            ("1000000.01", "is more than 1000000.00"),
            ("99999999999999999999", "is more than"),
        ] {
            let plan = plan_of(&file(&[&tee(&[("Variant Price", given)])]));
            assert!(reason(&plan, 2).contains(why), "{given}: {:?}", plan.rejected);
            assert!(plan.products.is_empty());
        }
        let plan = plan_of(&file(&[&tee(&[("Variant Compare At Price", "19,99")])]));
        assert!(reason(&plan, 2).starts_with("Variant Compare At Price"));
        let plan = plan_of(&file(&[&tee(&[("Variant Price", "")])]));
        assert_eq!(reason(&plan, 2), "missing Variant Price");
    }

    #[test]
    fn grams_become_the_variants_weight() {
        assert_eq!(plan_of(&file(&[&tee(&[])])).products[0].variants[0].weight_grams, 0);
        for (given, kept) in [("250", 250), ("500.0", 500), ("0", 0)] {
            let plan = plan_of(&file(&[&tee(&[("Variant Grams", given)])]));
            assert_eq!(plan.products[0].variants[0].weight_grams, kept, "{given}");
        }
        for (given, why) in [("-1", "between 0 and"), ("1.5", "whole number"), ("2000000", "between 0 and")] {
            let plan = plan_of(&file(&[&tee(&[("Variant Grams", given)])]));
            assert!(reason(&plan, 2).contains(why), "{given}: {:?}", plan.rejected);
        }
    }

    #[test]
    fn a_compare_at_price_is_kept_only_above_the_price() {
        for (compare_at, kept) in [("25", Some(2500)), ("19.99", None), ("10", None), ("", None)] {
            let plan = plan_of(&file(&[&tee(&[("Variant Compare At Price", compare_at)])]));
            assert_eq!(plan.products[0].variants[0].compare_at_cents, kept, "{compare_at}");
        }
    }

    #[test]
    fn inventory_is_a_bounded_whole_number_blank_meaning_none() {
        let stock = |qty: &'static str| plan_of(&file(&[&tee(&[("Variant Inventory Qty", qty)])]));
        assert_eq!(stock("").products[0].variants[0].stock, 0);
        assert_eq!(stock("1000000").products[0].variants[0].stock, MAX_STOCK);
        for (qty, why) in [
            ("-1", "is negative"),
            ("1.5", "not a whole number"),
            ("lots", "not a whole number"),
            ("1000001", "more than 1000000"),
        ] {
            assert!(reason(&stock(qty), 2).contains(why), "{qty}");
        }
    }

    #[test]
    fn every_named_option_needs_a_value_and_options_are_unique_per_product() {
        let plan = plan_of(&file(&[
            &tee(&[("Option2 Name", "Colour"), ("Option2 Value", "Navy")]),
            &[("Handle", "tee"), ("Option1 Value", "L"), ("Variant SKU", "TEE-L"), ("Variant Price", "20")],
            &[
                ("Handle", "tee"),
                ("Option1 Value", "M"),
                ("Option2 Value", "Navy"),
                ("Variant SKU", "TEE-M2"),
                ("Variant Price", "20"),
            ],
            &[
                ("Handle", "tee"),
                ("Option1 Value", "S"),
                ("Option2 Value", "Navy"),
                ("Option3 Value", "Wool"),
                ("Variant Price", "20"),
            ],
        ]));
        assert_eq!(reason(&plan, 3), "missing Option2 Value (Colour)");
        assert_eq!(reason(&plan, 4), "the same options as line 2 (M / Navy)");
        assert_eq!(reason(&plan, 5), "Option3 Value \"Wool\" but the product has no Option3 Name");
        assert_eq!(plan.skipped.len(), 1);

        let plan =
            plan_of(&file(&[&tee(&[("Option1 Name", ""), ("Option2 Name", "Colour"), ("Option2 Value", "Navy")])]));
        assert!(reason(&plan, 2).contains("Option2 Name without Option1 Name"));
        let plan = plan_of(&file(&[&tee(&[("Option2 Name", "size"), ("Option2 Value", "L")])]));
        assert!(reason(&plan, 2).contains("the option \"size\" is named twice"));
    }

    #[test]
    fn a_sku_used_twice_refuses_its_later_rows() {
        let plan = plan_of(&file(&[
            &tee(&[]),
            &[("Handle", "tee"), ("Option1 Value", "L"), ("Variant SKU", "TEE-L"), ("Variant Price", "20")],
            &[("Handle", "socks"), ("Title", "Socks"), ("Variant SKU", "TEE-L"), ("Variant Price", "5")],
        ]));
        assert_eq!(
            plan.rejected,
            vec![Rejection { line: 4, reason: "SKU \"TEE-L\" is already used on line 3".into() }]
        );
        assert_eq!(plan.products.iter().map(|p| p.slug.as_str()).collect::<Vec<_>>(), ["tee"]);
        assert_eq!(plan.skipped, vec![Skipped { handle: "socks".into(), line: 4 }]);
    }

    #[test]
    fn over_long_text_is_refused() {
        let long = |n: usize| "x".repeat(n);
        let (title, option, sku, category) = (long(201), long(61), long(65), long(101));
        let image = format!("https://example.com/{}", long(2048));
        let handle = long(121);
        for (row, why) in [
            (tee(&[("Title", title.as_str())]), "Title is 201 characters; the most is 200"),
            (tee(&[("Option1 Value", option.as_str())]), "Option1 Value is 61 characters; the most is 60"),
            (tee(&[("Option1 Name", option.as_str())]), "Option1 Name is 61 characters"),
            (tee(&[("Variant SKU", sku.as_str())]), "Variant SKU is 65 characters; the most is 64"),
            (tee(&[("Type", category.as_str())]), "the category is 101 characters; the most is 100"),
            (tee(&[("Image Src", image.as_str())]), "Image Src is 2068 bytes; the most is 2048"),
            (tee(&[("Handle", handle.as_str())]), "is not a slug"),
            (tee(&[("Handle", "Tee Shirt")]), "Handle \"Tee Shirt\" is not a slug"),
        ] {
            let plan = plan_of(&file(&[&row]));
            assert!(reason(&plan, 2).contains(why), "{why}: {:?}", plan.rejected);
            assert!(plan.products.is_empty());
        }
    }

    #[test]
    fn a_ten_megabyte_cell_is_refused_with_its_size() {
        let body = "<p>".to_string() + &"a".repeat(10 * 1024 * 1024) + "</p>";
        let plan = plan_of(&file(&[&tee(&[("Body (HTML)", body.as_str())])]));
        assert_eq!(plan.rejected.len(), 1);
        assert_eq!(plan.rejected[0].line, 2);
        assert_eq!(plan.rejected[0].reason, "the cell in column \"Body (HTML)\" is 10485767 bytes; the most is 65536");
        assert!(plan.products.is_empty());
        // In a column the import does not read, too.
        let plan =
            plan_of(format!("Handle,Title,Variant Price,Notes\nx,X,1,{}\n", "n".repeat(MAX_CELL_BYTES + 1)).as_bytes());
        assert!(reason(&plan, 2).contains("column \"Notes\" is 65537 bytes"));
    }

    #[test]
    fn a_file_over_the_limit_is_refused_before_parsing() {
        let big = vec![b'a'; MAX_FILE_BYTES + 1];
        assert_eq!(
            parse(&big, &ParseOptions::default(), &exists).unwrap_err(),
            FileError::TooLarge(MAX_FILE_BYTES + 1)
        );
    }

    #[test]
    fn spreadsheet_formulas_are_refused() {
        for (column, value) in [
            ("Title", "=HYPERLINK(\"http://evil.example\",\"click\")"),
            ("Title", "  =1+1"),
            ("Variant SKU", "+SKU"),
            ("Option1 Value", "@SUM(A1)"),
            ("Type", "-2+3"),
            ("Body (HTML)", "=cmd|' /C calc'!A0"),
        ] {
            let plan = plan_of(&file(&[&tee(&[(column, value)])]));
            assert!(
                reason(&plan, 2).contains("looks like a spreadsheet formula"),
                "{column} {value}: {:?}",
                plan.rejected
            );
        }
    }

    #[test]
    fn control_characters_in_one_line_cells_are_refused() {
        let plan = plan_of(&file(&[&tee(&[("Title", "Tee\nShirt")])]));
        assert!(reason(&plan, 2).contains("control character"));
    }

    #[test]
    fn a_file_that_is_not_utf8_is_refused_naming_the_line_and_column() {
        let mut bytes = b"Handle,Title,Body (HTML),Variant Price\nmug,Mug,\"<p>two\nlines</p>\",3\n".to_vec();
        bytes.extend_from_slice(b"cafe,Caf\xe9 au lait,,4\n");
        assert_eq!(
            parse(&bytes, &ParseOptions::default(), &exists).unwrap_err(),
            FileError::NotUtf8 { line: 4, column: "Title".into() }
        );
        let header = b"Handle,Ti\xfftle,Variant Price\n";
        assert_eq!(
            parse(header, &ParseOptions::default(), &exists).unwrap_err(),
            FileError::NotUtf8 { line: 1, column: "#2".into() }
        );
    }

    #[test]
    fn descriptions_are_sanitised_not_refused() {
        let body = "<p onclick=\"steal()\">Hello <script>alert('x')</script>world</p>\
                    <img src=\"/img/x.png\" onerror=\"alert(1)\">\
                    <a href=\"javascript:alert(1)\">bad link</a> <a href=\"https://example.com\">good link</a>\
                    <style>body{display:none}</style><iframe src=\"https://evil.example\"></iframe>";
        let plan = plan_of(&file(&[&tee(&[("Body (HTML)", body)])]));
        assert_eq!(plan.rejected, vec![]);
        let html = &plan.products[0].description_html;
        for banned in ["<script", "alert", "onerror", "onclick", "javascript:", "<style", "<iframe", "display:none"] {
            assert!(!html.contains(banned), "{banned} in {html}");
        }
        assert!(html.contains("<p>Hello world</p>"), "{html}");
        assert!(html.contains("href=\"https://example.com\""), "{html}");
        assert_eq!(plan.products[0].description, "Hello world bad link good link");
    }

    #[test]
    fn plain_text_decodes_entities_and_separates_blocks() {
        assert_eq!(plain_text("<p>Fish &amp; chips&nbsp;&lt;3</p><p>Next</p>"), "Fish & chips <3 Next");
        assert_eq!(plain_text("<ul><li>One</li><li>Two</li></ul>Line<br>break"), "One Two Line break");
        assert_eq!(plain_text("<b>Bold</b>er and <em>em</em>phasis"), "Bolder and emphasis");
        assert_eq!(plain_text(&ammonia::clean("caf&eacute; &#8212; &quot;ok&quot;")), "café — \"ok\"");
        assert_eq!(plain_text(""), "");
    }

    #[test]
    fn pictures_are_web_urls_or_files_of_the_public_folder() {
        let ok = |image: &'static str| plan_of(&file(&[&tee(&[("Image Src", image)])])).products[0].image.clone();
        assert_eq!(ok("/img/shoes-1.svg"), "/img/shoes-1.svg");
        assert_eq!(
            ok("https://cdn.shopify.com/s/files/1/tee.jpg?v=1"),
            "https://cdn.shopify.com/s/files/1/tee.jpg?v=1"
        );
        assert_eq!(ok("HTTP://Example.com/a b.png"), "http://example.com/a%20b.png");
        for (image, why) in [
            ("/img/missing.svg", "no such file in the public folder"),
            ("javascript:alert(1)", "must be an http(s) URL or a path"),
            ("data:image/svg+xml;base64,PHN2Zz4=", "must be an http(s) URL or a path"),
            ("//evil.example/x.png", "must be an http(s) URL or a path"),
            ("/img/../../etc/passwd", "must be an http(s) URL or a path"),
            ("/img/./shoes-1.svg", "must be an http(s) URL or a path"),
            ("img/shoes-1.svg", "must be an http(s) URL or a path"),
            ("/img/shoes-1.svg?x=1", "must be an http(s) URL or a path"),
            ("https://user:pw@example.com/x.png", "user name or password"),
            ("http://", "is not a URL"),
        ] {
            let plan = plan_of(&file(&[&tee(&[("Image Src", image)])]));
            assert!(reason(&plan, 2).contains(why), "{image}: {:?}", plan.rejected);
        }
        let plan = plan_of(&file(&[&tee(&[("Variant Image", "/img/nope.svg")])]));
        assert!(reason(&plan, 2).starts_with("Variant Image"));
    }

    #[test]
    fn the_picture_comes_from_a_later_row_or_a_variant_when_the_first_row_has_none() {
        let plan =
            plan_of(&file(&[&tee(&[("Image Src", "")]), &[("Handle", "tee"), ("Image Src", "/img/apparel-2.svg")]]));
        assert_eq!(plan.products[0].image, "/img/apparel-2.svg");
        let plan = plan_of(&file(&[&tee(&[("Image Src", ""), ("Variant Image", "/img/shoes-1.svg")])]));
        assert_eq!(plan.products[0].image, "/img/shoes-1.svg");
    }

    #[test]
    fn drafts_archived_and_unpublished_products_are_inactive() {
        let active = |extra: &[(&'static str, &'static str)]| plan_of(&file(&[&tee(extra)])).products[0].active;
        assert!(active(&[]));
        assert!(active(&[("Published", "true"), ("Status", "Active")]));
        assert!(!active(&[("Published", "FALSE")]));
        assert!(!active(&[("Status", "draft")]));
        assert!(!active(&[("Status", "archived")]));
        let plan = plan_of(&file(&[&tee(&[("Status", "pending")])]));
        assert!(reason(&plan, 2).contains("Status \"pending\" is not active, draft or archived"));
        let plan = plan_of(&file(&[&tee(&[("Published", "maybe")])]));
        assert!(reason(&plan, 2).contains("Published \"maybe\""));
    }

    #[test]
    fn rows_without_a_handle_are_refused_and_blank_rows_skipped() {
        let plan = plan_of(b"Handle,Title,Variant Price\n,Orphan,3\n,,\nmug,Mug,4\n");
        assert_eq!(plan.rejected, vec![Rejection { line: 2, reason: "no Handle".into() }]);
        assert_eq!(plan.rows, 2);
        assert_eq!(plan.products.len(), 1);
    }

    #[test]
    fn a_row_longer_than_the_header_is_refused() {
        let plan = plan_of(b"Handle,Title,Variant Price\nmug,Mug,4,,\nbowl,Bowl,5,oops\n");
        assert_eq!(plan.products.len(), 1);
        assert!(reason(&plan, 3).contains("4 cells where the header has 3"));
    }

    #[test]
    fn derived_skus_are_stable_slug_like_and_bounded() {
        let opts = |a: &str, b: &str| [a.to_string(), b.to_string(), String::new()];
        assert_eq!(derived_sku("tee", &opts("M", "Navy Blue")), "tee-m-navy-blue");
        assert_eq!(derived_sku("pan", &opts("10\"", "")), "pan-10");
        let unicode = derived_sku("tee", &opts("Größe", "日本"));
        assert_eq!(unicode, derived_sku("tee", &opts("Größe", "日本")));
        assert!(unicode.starts_with("tee-gr-e-") && unicode.len() == "tee-gr-e-".len() + 8, "{unicode}");
        let long = derived_sku(&"h".repeat(100), &opts("M", ""));
        assert_eq!(long.len(), MAX_SKU_CHARS);
        assert_ne!(long, derived_sku(&"h".repeat(100), &opts("L", "")));
        // Blank SKUs in a file are derived the same way.
        let plan = plan_of(&file(&[&tee(&[("Variant SKU", "")])]));
        assert_eq!(plan.products[0].variants[0].sku, "tee-m");
    }

    #[test]
    fn category_slugs() {
        assert_eq!(category_slug("Home & Decor"), "home-decor");
        assert_eq!(category_slug("  T-Shirts / Tops "), "t-shirts-tops");
        assert_eq!(category_slug(UNCATEGORISED), "uncategorised");
        assert!(category_slug("日本").starts_with("category-"));
        assert!(valid_slug(&category_slug(&"Ab ".repeat(40))));
    }

    proptest! {
        #[test]
        fn any_price_written_with_two_decimals_reads_back(cents in 0..=MAX_PRICE_CENTS) {
            let written = format!("{}.{:02}", cents / 100, cents % 100);
            prop_assert_eq!(amount("Variant Price", &written), Ok(cents));
        }

        #[test]
        fn any_title_survives_csv_quoting(title in "[^=+@\\-\\p{Cc}\\s][^\\p{Cc}]{0,80}") {
            let title = title.trim_end();
            let bytes = file(&[&[("Handle", "p"), ("Title", title), ("Variant Price", "1")]]);
            let plan = plan_of(&bytes);
            prop_assert_eq!(plan.rejected, vec![]);
            prop_assert_eq!(plan.products[0].name.as_str(), title);
        }
    }
}
