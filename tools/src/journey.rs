//! The load test's shopper: a new visitor who browses (home, a category), views a product, adds
//! it to the cart, looks at the cart, signs in (the guest cart merges into the account's) and
//! checks out; then starts again as a new visitor. Shoppers pause between steps as people do.
//! Requests may go to several instances in turn, as behind a load balancer without stickiness.

use crate::loadgen::{new_histogram, report_from, Report};
use hdrhistogram::Histogram;
use rand::Rng;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The journey's steps, in order; reports use these names.
pub const STEPS: [&str; 8] = [
    "home",
    "category page",
    "product page",
    "add to cart",
    "cart page",
    "log in (merge)",
    "checkout summary",
    "place order",
];
const ADD_TO_CART: usize = 3;
const PLACE_ORDER: usize = 7;

/// What shoppers pick from, discovered through the shop's API.
#[derive(Clone, Debug)]
pub struct Catalogue {
    pub categories: Vec<String>,
    /// (variant id, product slug) of products with one variant and plenty in stock.
    pub products: Vec<(i64, String)>,
}

#[derive(Clone, Debug)]
pub struct Account {
    pub email: String,
    pub password: String,
}

/// One visitor's cookies, kept by hand so each journey can start as a new visitor without a new
/// connection pool.
#[derive(Default)]
struct Cookies(BTreeMap<String, String>, Option<String>);

impl Cookies {
    /// A browser at `address`: sent as `X-Forwarded-For`, which a shop started with
    /// `TRUST_PROXY=true` takes as the client's address (each shopper is a different person, so
    /// per-address sign-in limits apply to each, as they would in the field).
    fn at(address: String) -> Cookies {
        Cookies(BTreeMap::new(), Some(address))
    }

    fn header(&self) -> Option<String> {
        (!self.0.is_empty()).then(|| self.0.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; "))
    }

    fn update(&mut self, res: &reqwest::Response) {
        for value in res.headers().get_all(reqwest::header::SET_COOKIE) {
            let Ok(text) = value.to_str() else { continue };
            let Some((name, rest)) = text.split_once('=') else { continue };
            let value = rest.split(';').next().unwrap_or("");
            let expired = text.to_ascii_lowercase().contains("max-age=0");
            if value.is_empty() || expired {
                self.0.remove(name);
            } else {
                self.0.insert(name.to_string(), value.to_string());
            }
        }
    }
}

/// The shop (one or several instances) as seen from the load generator.
#[derive(Clone)]
pub struct Target {
    http: reqwest::Client,
    bases: Arc<Vec<String>>,
}

impl Target {
    pub fn new(bases: Vec<String>) -> Target {
        assert!(!bases.is_empty(), "at least one instance");
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(2048)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .expect("http client");
        Target { http, bases: Arc::new(bases.into_iter().map(|b| b.trim_end_matches('/').to_string()).collect()) }
    }

    fn url(&self, turn: usize, path: &str) -> String {
        format!("{}{path}", self.bases[turn % self.bases.len()])
    }

    async fn send(
        &self,
        turn: usize,
        cookies: &mut Cookies,
        path: &str,
        form: Option<String>,
    ) -> Result<Value, String> {
        let mut req = match &form {
            Some(body) => self
                .http
                .post(self.url(turn, path))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body.clone()),
            None => self.http.get(self.url(turn, path)),
        };
        if let Some(cookie) = cookies.header() {
            req = req.header(reqwest::header::COOKIE, cookie);
        }
        if let Some(address) = &cookies.1 {
            req = req.header("x-forwarded-for", address);
        }
        let res = req.send().await.map_err(|e| format!("{path}: {e}"))?;
        cookies.update(&res);
        let status = res.status();
        let body = res.bytes().await.map_err(|e| format!("{path}: {e}"))?;
        if !status.is_success() {
            return Err(format!(
                "{path}: {status} {}",
                String::from_utf8_lossy(&body).chars().take(200).collect::<String>()
            ));
        }
        Ok(if form.is_some() { serde_json::from_slice(&body).unwrap_or(Value::Null) } else { Value::Null })
    }

    /// Categories and in-stock products, through the public API.
    pub async fn discover(&self) -> Result<Catalogue, String> {
        let mut cookies = Cookies::default();
        let categories = self.send(0, &mut cookies, "/api/catalog/categories", Some(String::new())).await?;
        let categories: Vec<String> =
            categories.as_array().into_iter().flatten().filter_map(|c| c["slug"].as_str().map(String::from)).collect();
        let mut products = Vec::new();
        for slug in &categories {
            let page = self.send(0, &mut cookies, "/api/catalog/category", Some(format!("slug={slug}"))).await?;
            // A listing's button adds a product's only variant (products with several are chosen
            // on their page); plenty of stock keeps the run about shopping, not selling out.
            for p in page["listing"]["products"].as_array().into_iter().flatten() {
                if let (Some(variant), Some(slug), Some(stock)) =
                    (p["single_variant"].as_i64(), p["slug"].as_str(), p["stock"].as_i64())
                {
                    if stock >= 20 {
                        products.push((variant, slug.to_string()));
                    }
                }
            }
        }
        if categories.is_empty() || products.is_empty() {
            return Err("the shop has no categories or no products in stock".into());
        }
        Ok(Catalogue { categories, products })
    }

    /// Registers `n` accounts for the shoppers to sign in with.
    pub async fn register(&self, n: usize, run: &str) -> Result<Vec<Account>, String> {
        let mut accounts = Vec::with_capacity(n);
        for i in 0..n {
            let account =
                Account { email: format!("load-{run}-{i}@example.com"), password: format!("load-password-{run}") };
            let form = format!("email={}&password={}", urlencode(&account.email), urlencode(&account.password));
            self.send(i, &mut Cookies::default(), "/api/auth/register", Some(form)).await?;
            accounts.push(account);
        }
        Ok(accounts)
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// How a run goes: shoppers, how long, and the pause between steps (each pause is drawn
/// uniformly from half to one and a half times `think`).
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    pub shoppers: usize,
    pub warmup: Duration,
    pub duration: Duration,
    pub think: Duration,
}

/// Per-step figures, in `STEPS` order, plus the number of orders placed while measuring.
pub struct Outcome {
    pub steps: Vec<Report>,
    pub journeys: u64,
    /// A few of the errors seen, for the operator to read.
    pub sample_errors: Vec<String>,
}

impl Outcome {
    pub fn errors(&self) -> u64 {
        self.steps.iter().map(|s| s.errors).sum()
    }

    pub fn add_to_cart(&self) -> &Report {
        &self.steps[ADD_TO_CART]
    }
}

struct Recorder {
    hists: Vec<Histogram<u64>>,
    errors: Vec<u64>,
    journeys: u64,
    sample_errors: Vec<String>,
}

/// Runs `plan.shoppers` shoppers against `target` and reports each step.
pub async fn run(target: &Target, catalogue: &Catalogue, accounts: &[Account], plan: Plan) -> Outcome {
    assert!(accounts.len() >= plan.shoppers, "one account per shopper");
    let start = Instant::now();
    let (measure_from, end) = (start + plan.warmup, start + plan.warmup + plan.duration);
    let mut tasks = Vec::with_capacity(plan.shoppers);
    for (shopper, account) in accounts.iter().take(plan.shoppers).enumerate() {
        let (target, catalogue, account) = (target.clone(), catalogue.clone(), account.clone());
        tasks.push(tokio::spawn(async move {
            let mut rec = Recorder {
                hists: STEPS.iter().map(|_| new_histogram()).collect(),
                errors: vec![0; STEPS.len()],
                journeys: 0,
                sample_errors: Vec::new(),
            };
            // Stagger the start so shoppers do not move in lockstep.
            let mut turn = shopper;
            let stagger = rand::thread_rng().gen::<f64>() * 2.0;
            pause(plan.think.mul_f64(stagger)).await;
            while Instant::now() < end {
                let address = format!("10.{}.{}.{}", shopper / 65_536 % 256, shopper / 256 % 256, shopper % 256);
                journey(&target, &catalogue, &account, &address, plan, &mut turn, measure_from, end, &mut rec).await;
            }
            rec
        }));
    }
    let mut hists: Vec<Histogram<u64>> = STEPS.iter().map(|_| new_histogram()).collect();
    let (mut errors, mut journeys, mut sample_errors) = (vec![0u64; STEPS.len()], 0, Vec::new());
    for task in tasks {
        let rec = task.await.expect("shopper panicked");
        for (i, h) in rec.hists.iter().enumerate() {
            hists[i].add(h).expect("same bounds");
            errors[i] += rec.errors[i];
        }
        journeys += rec.journeys;
        if sample_errors.len() < 5 {
            sample_errors.extend(rec.sample_errors);
        }
    }
    sample_errors.truncate(5);
    let steps =
        STEPS.iter().enumerate().map(|(i, name)| report_from(name, &hists[i], errors[i], plan.duration)).collect();
    Outcome { steps, journeys, sample_errors }
}

async fn pause(d: Duration) {
    if !d.is_zero() {
        tokio::time::sleep(d).await;
    }
}

/// One journey as a new visitor. Stops at the first failed step (a person would too).
#[allow(clippy::too_many_arguments)]
async fn journey(
    target: &Target,
    catalogue: &Catalogue,
    account: &Account,
    address: &str,
    plan: Plan,
    turn: &mut usize,
    measure_from: Instant,
    end: Instant,
    rec: &mut Recorder,
) {
    let mut cookies = Cookies::at(address.to_string());
    let (category, (variant_id, product)) = {
        let mut rng = rand::thread_rng();
        let category = catalogue.categories[rng.gen_range(0..catalogue.categories.len())].clone();
        (category, catalogue.products[rng.gen_range(0..catalogue.products.len())].clone())
    };
    let login = format!("email={}&password={}", urlencode(&account.email), urlencode(&account.password));
    let requests: [(String, Option<String>); STEPS.len()] = [
        ("/".into(), None),
        (format!("/c/{category}"), None),
        (format!("/p/{product}"), None),
        ("/api/cart/add".into(), Some(format!("variant_id={variant_id}&quantity=1"))),
        ("/cart".into(), None),
        ("/api/auth/login".into(), Some(login)),
        ("/api/checkout/summary".into(), Some(String::new())),
        // Filled in from the summary: the order confirms the quote the shopper was shown.
        ("/api/checkout/place".into(), None),
    ];
    let mut answer = Value::Null;
    for (step, (path, form)) in requests.into_iter().enumerate() {
        let form = match (step, form) {
            (PLACE_ORDER, _) => Some(format!(
                "idempotency_key={}&quote={}&email={}&name=Load+Shopper&line1=1+Main+St&city=Springfield&postcode=12345&country=US",
                answer["idempotency_key"].as_str().unwrap_or_default(),
                urlencode(answer["quote"].as_str().unwrap_or_default()),
                urlencode(&account.email)
            )),
            (_, form) => form,
        };
        if step > 0 {
            let jitter = 0.5 + rand::thread_rng().gen::<f64>();
            pause(plan.think.mul_f64(jitter)).await;
        }
        let t0 = Instant::now();
        if t0 >= end {
            return;
        }
        *turn += 1;
        let result = target.send(*turn, &mut cookies, &path, form).await;
        if let Ok(v) = &result {
            answer = v.clone();
        }
        let counted = t0 >= measure_from;
        if counted {
            let _ = rec.hists[step].record((t0.elapsed().as_micros().max(1) as u64).min(60_000_000));
        }
        if let Err(e) = result {
            if counted {
                rec.errors[step] += 1;
                if rec.sample_errors.len() < 2 {
                    rec.sample_errors.push(e);
                }
            }
            return;
        }
        if step == STEPS.len() - 1 && counted {
            rec.journeys += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_follow_set_cookie_headers() {
        let mut jar = Cookies::default();
        jar.0.insert("id".into(), "old".into());
        jar.0.insert("gone".into(), "x".into());
        let res: reqwest::Response = http::Response::builder()
            .header("set-cookie", "id=new; Path=/; HttpOnly")
            .header("set-cookie", "gone=; Max-Age=0")
            .header("set-cookie", "vid=abc")
            .body("")
            .unwrap()
            .into();
        jar.update(&res);
        assert_eq!(jar.header().as_deref(), Some("id=new; vid=abc"));
    }

    #[test]
    fn form_values_are_percent_encoded() {
        assert_eq!(urlencode("a b@c.d+e"), "a%20b%40c.d%2Be");
    }
}
