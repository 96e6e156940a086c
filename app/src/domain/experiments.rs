//! Feature flags and experiments: deterministic assignment and the statistics of the report.
//! Pure functions, no I/O.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The cart layout experiment shipped with the shop: `page` (control) or `drawer`.
pub const CART_LAYOUT: &str = "cart_layout";

/// Who an exposure, a conversion or a shopper signal is about. Stored and hashed in its text
/// form (`key`): `u:<account id>` or `a:<anonymous id>`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Subject {
    User(i64),
    /// A browser's (signed, server-minted) anonymous id.
    Anon(String),
    /// Neither: nothing is recorded about it, and the hash still gives it a variant.
    Unknown,
}

impl Subject {
    /// The stored form, which is also what the assignment hashes (so it never changes).
    pub fn key(&self) -> String {
        match self {
            Subject::User(id) => format!("u:{id}"),
            Subject::Anon(id) => format!("a:{id}"),
            Subject::Unknown => "a:unknown".into(),
        }
    }

    /// Whether anything may be recorded about this subject.
    pub fn is_known(&self) -> bool {
        !matches!(self, Subject::Unknown)
    }
}

/// Assignment resolution: a stable hash puts every subject in one of this many buckets.
pub const BUCKETS: u32 = 10_000;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Variant {
    pub name: String,
    /// Relative share of subjects; all weights of a flag need not add up to anything.
    pub weight: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flag {
    pub name: String,
    pub enabled: bool,
    /// The first variant is the control: everyone gets it while the flag is disabled.
    pub variants: Vec<Variant>,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum FlagError {
    #[error("a flag needs at least two variants")]
    TooFewVariants,
    #[error("variant names are 1 to 32 lower-case letters, digits, '-' or '_', and unique")]
    BadVariantName,
    #[error("weights must add up to more than 0 and at most 10000")]
    BadWeights,
    #[error("write variants as name:weight pairs separated by commas, e.g. page:50,drawer:50")]
    BadSyntax,
}

pub fn valid_name(s: &str) -> bool {
    (1..=32).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

impl Flag {
    pub fn control(&self) -> &str {
        self.variants.first().map(|v| v.name.as_str()).unwrap_or("control")
    }

    pub fn has_variant(&self, name: &str) -> bool {
        self.variants.iter().any(|v| v.name == name)
    }

    /// The variant a subject gets. A disabled flag sends everyone to the control (kill switch).
    pub fn assign(&self, subject: &str) -> &str {
        if !self.enabled {
            return self.control();
        }
        variant_for_bucket(&self.variants, bucket(&self.name, subject)).unwrap_or_else(|| self.control())
    }

    /// Checks and normalises variants written as `page:50,drawer:50`.
    pub fn parse_variants(spec: &str) -> Result<Vec<Variant>, FlagError> {
        let mut out: Vec<Variant> = Vec::new();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, weight) = part.split_once(':').ok_or(FlagError::BadSyntax)?;
            let name = name.trim();
            let weight: u32 = weight.trim().parse().map_err(|_| FlagError::BadSyntax)?;
            if !valid_name(name) || out.iter().any(|v| v.name == name) {
                return Err(FlagError::BadVariantName);
            }
            out.push(Variant { name: name.to_string(), weight });
        }
        if out.len() < 2 {
            return Err(FlagError::TooFewVariants);
        }
        let total: u64 = out.iter().map(|v| u64::from(v.weight)).sum();
        if total == 0 || total > u64::from(BUCKETS) {
            return Err(FlagError::BadWeights);
        }
        Ok(out)
    }

    pub fn variants_spec(&self) -> String {
        self.variants.iter().map(|v| format!("{}:{}", v.name, v.weight)).collect::<Vec<_>>().join(",")
    }
}

/// The subject's bucket for a flag: the first 8 bytes of SHA-256("flag:subject") modulo
/// `BUCKETS`. Salting with the flag name keeps different experiments independent.
pub fn bucket(flag: &str, subject: &str) -> u32 {
    let mut h = Sha256::new();
    h.update(flag.as_bytes());
    h.update(b":");
    h.update(subject.as_bytes());
    let digest = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    (u64::from_be_bytes(first) % u64::from(BUCKETS)) as u32
}

/// Maps a bucket to a variant: each variant owns a run of buckets proportional to its weight.
pub fn variant_for_bucket(variants: &[Variant], bucket: u32) -> Option<&str> {
    let total: u64 = variants.iter().map(|v| u64::from(v.weight)).sum();
    if total == 0 {
        return None;
    }
    let mut upper = 0u64;
    for v in variants {
        upper += u64::from(v.weight);
        if u64::from(bucket) * total < upper * u64::from(BUCKETS) {
            return Some(&v.name);
        }
    }
    variants.last().map(|v| v.name.as_str())
}

/// Conversion steps attributed to a variant, in funnel order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Step {
    AddToCart,
    CheckoutStarted,
    OrderPlaced,
}

impl Step {
    pub const ALL: [Step; 3] = [Step::AddToCart, Step::CheckoutStarted, Step::OrderPlaced];

    pub fn as_str(self) -> &'static str {
        match self {
            Step::AddToCart => "add_to_cart",
            Step::CheckoutStarted => "checkout_started",
            Step::OrderPlaced => "order_placed",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Step::AddToCart => "Added to cart",
            Step::CheckoutStarted => "Started checkout",
            Step::OrderPlaced => "Placed an order",
        }
    }

    pub fn parse(s: &str) -> Option<Step> {
        Step::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

/// Per variant: subjects exposed, and how many of them reached each step.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VariantCounts {
    pub variant: String,
    pub subjects: u64,
    pub steps: Vec<(Step, u64)>,
}

/// One step of one variant in the report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepResult {
    pub step: Step,
    pub conversions: u64,
    pub rate: f64,
    /// Against the control; `None` for the control itself or without data.
    pub vs_control: Option<Difference>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VariantResult {
    pub variant: String,
    pub weight: u32,
    pub subjects: u64,
    pub steps: Vec<StepResult>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub flag: Flag,
    pub variants: Vec<VariantResult>,
    /// Chi-square statistic and p-value of the split against the weights.
    pub srm: Option<(f64, f64)>,
    /// The split departs from the weights more than chance explains (p < 0.001): the
    /// assignment or the exposure logging is broken and the results cannot be trusted.
    pub srm_warning: bool,
}

/// Below this p-value the split is called a sample ratio mismatch (the usual, strict threshold:
/// SRM checks run continuously).
pub const SRM_ALPHA: f64 = 0.001;

/// The experiment report: every configured variant (even without subjects), rates per step and
/// each treatment's difference from the control.
pub fn report(flag: &Flag, counts: &[VariantCounts]) -> Report {
    let find = |name: &str| counts.iter().find(|c| c.variant == name);
    let step_count = |c: Option<&VariantCounts>, step: Step| {
        c.and_then(|c| c.steps.iter().find(|(s, _)| *s == step)).map(|(_, n)| *n).unwrap_or(0)
    };
    let control = find(flag.control());
    let control_n = control.map(|c| c.subjects).unwrap_or(0);
    let variants: Vec<VariantResult> = flag
        .variants
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let c = find(&v.name);
            let subjects = c.map(|c| c.subjects).unwrap_or(0);
            let steps = Step::ALL
                .iter()
                .map(|&step| {
                    let conversions = step_count(c, step);
                    let rate = if subjects > 0 { conversions as f64 / subjects as f64 } else { 0.0 };
                    let vs_control = (i > 0)
                        .then(|| two_proportion((step_count(control, step), control_n), (conversions, subjects)))
                        .flatten();
                    StepResult { step, conversions, rate, vs_control }
                })
                .collect();
            VariantResult { variant: v.name.clone(), weight: v.weight, subjects, steps }
        })
        .collect();
    let observed: Vec<u64> = variants.iter().map(|v| v.subjects).collect();
    let weights: Vec<u32> = variants.iter().map(|v| v.weight).collect();
    let srm = sample_ratio_mismatch(&observed, &weights);
    Report { flag: flag.clone(), variants, srm, srm_warning: srm.is_some_and(|(_, p)| p < SRM_ALPHA) }
}

/// Difference of two conversion rates (treatment minus control) with a 95% confidence interval
/// and the two-sided p-value of the pooled two-proportion z-test.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Difference {
    pub diff: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    pub z: f64,
    pub p_value: f64,
}

pub const Z_95: f64 = 1.959_963_984_540_054;

/// `None` when either group is empty. The interval uses the unpooled standard error (Wald);
/// the test statistic uses the pooled one, as usual for H0: p1 = p2.
pub fn two_proportion(control: (u64, u64), treatment: (u64, u64)) -> Option<Difference> {
    let (x1, n1) = control;
    let (x2, n2) = treatment;
    if n1 == 0 || n2 == 0 {
        return None;
    }
    let (n1f, n2f) = (n1 as f64, n2 as f64);
    let (p1, p2) = (x1 as f64 / n1f, x2 as f64 / n2f);
    let diff = p2 - p1;
    let se = (p1 * (1.0 - p1) / n1f + p2 * (1.0 - p2) / n2f).sqrt();
    let pooled = (x1 + x2) as f64 / (n1f + n2f);
    let se0 = (pooled * (1.0 - pooled) * (1.0 / n1f + 1.0 / n2f)).sqrt();
    let z = if se0 > 0.0 { diff / se0 } else { 0.0 };
    Some(Difference {
        diff,
        ci_low: diff - Z_95 * se,
        ci_high: diff + Z_95 * se,
        z,
        p_value: 2.0 * (1.0 - normal_cdf(z.abs())),
    })
}

/// Sample ratio mismatch: chi-square goodness of fit of the observed split against the
/// configured weights. Returns (statistic, p-value); `None` without data.
pub fn sample_ratio_mismatch(observed: &[u64], weights: &[u32]) -> Option<(f64, f64)> {
    let n: u64 = observed.iter().sum();
    let total_w: u64 = weights.iter().map(|w| u64::from(*w)).sum();
    if n == 0 || total_w == 0 || observed.len() != weights.len() || observed.len() < 2 {
        return None;
    }
    let mut chi2 = 0.0;
    let mut df = 0u32;
    for (o, w) in observed.iter().zip(weights) {
        let expected = n as f64 * f64::from(*w) / total_w as f64;
        if expected > 0.0 {
            chi2 += (*o as f64 - expected).powi(2) / expected;
            df += 1;
        } else if *o > 0 {
            // Subjects in a variant that should get none: as mismatched as it gets.
            return Some((f64::INFINITY, 0.0));
        }
    }
    Some((chi2, chi_square_survival(chi2, df.saturating_sub(1).max(1))))
}

/// Standard normal CDF through erf (Abramowitz & Stegun 7.1.26, error below 1.5e-7).
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * (1.0 + erf(x / std::f64::consts::SQRT_2))
}

fn erf(x: f64) -> f64 {
    let sign = if x < 0.0 { -1.0 } else { 1.0 };
    let x = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * x);
    let y = 1.0
        - (((((1.061_405_429 * t - 1.453_152_027) * t) + 1.421_413_741) * t - 0.284_496_736) * t + 0.254_829_592)
            * t
            * (-x * x).exp();
    sign * y
}

/// P(X >= x) for a chi-square distribution with `df` degrees of freedom (closed forms for
/// integer df).
pub fn chi_square_survival(x: f64, df: u32) -> f64 {
    if x.is_infinite() {
        return 0.0;
    }
    if x <= 0.0 {
        return 1.0;
    }
    let half = x / 2.0;
    if df.is_multiple_of(2) {
        let mut term = 1.0;
        let mut sum = 1.0;
        for i in 1..df / 2 {
            term *= half / f64::from(i);
            sum += term;
        }
        (sum * (-half).exp()).min(1.0)
    } else {
        let root = x.sqrt();
        let mut q = 2.0 * (1.0 - normal_cdf(root));
        let mut term = (2.0 * x / std::f64::consts::PI).sqrt() * (-half).exp();
        for i in 1..=(df - 1) / 2 {
            if i > 1 {
                term *= x / f64::from(2 * i - 1);
            }
            q += term;
        }
        q.clamp(0.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn subjects_keep_their_stored_form() {
        use super::Subject;
        assert_eq!(Subject::User(7).key(), "u:7");
        assert_eq!(Subject::Anon("x1".into()).key(), "a:x1");
        assert_eq!(Subject::Unknown.key(), "a:unknown");
        assert!(Subject::Anon("x1".into()).is_known() && !Subject::Unknown.is_known());
    }

    use super::*;

    fn flag(enabled: bool, weights: &[(&str, u32)]) -> Flag {
        Flag {
            name: "cart_layout".into(),
            enabled,
            variants: weights.iter().map(|(n, w)| Variant { name: n.to_string(), weight: *w }).collect(),
        }
    }

    #[test]
    fn buckets_are_stable() {
        // Pinned: changing the hash would reshuffle every running experiment.
        assert_eq!(bucket("cart_layout", "a:00000000-0000-0000-0000-000000000000"), bucket_reference());
        assert_eq!(bucket("cart_layout", "u:1"), bucket("cart_layout", "u:1"));
        assert_ne!(bucket("cart_layout", "u:1"), bucket("other_flag", "u:1"), "flags are salted");
    }

    fn bucket_reference() -> u32 {
        let d = Sha256::digest(b"cart_layout:a:00000000-0000-0000-0000-000000000000");
        (u64::from_be_bytes(d[..8].try_into().unwrap()) % 10_000) as u32
    }

    #[test]
    fn buckets_are_uniform() {
        // 100 cells of 100 buckets each over 100,000 ids: chi-square with 99 df. The 0.001
        // critical value is 148.2.
        let mut cells = [0u64; 100];
        for i in 0..100_000 {
            cells[(bucket("cart_layout", &format!("a:{i}")) / 100) as usize] += 1;
        }
        let expected = 1000.0;
        let chi2: f64 = cells.iter().map(|&o| (o as f64 - expected).powi(2) / expected).sum();
        assert!(chi2 < 148.2, "chi-square {chi2}");
        assert!(chi_square_survival(chi2, 99) > 0.001);
    }

    #[test]
    fn weights_are_respected() {
        let f = flag(true, &[("page", 90), ("drawer", 10)]);
        let drawer = (0..50_000).filter(|i| f.assign(&format!("u:{i}")) == "drawer").count();
        let share = drawer as f64 / 50_000.0;
        assert!((share - 0.10).abs() < 0.01, "drawer share {share}");
        let f = flag(true, &[("page", 0), ("drawer", 1)]);
        assert!((0..1000).all(|i| f.assign(&format!("u:{i}")) == "drawer"));
    }

    #[test]
    fn bucket_boundaries() {
        let v = flag(true, &[("a", 1), ("b", 1)]).variants;
        assert_eq!(variant_for_bucket(&v, 0), Some("a"));
        assert_eq!(variant_for_bucket(&v, 4_999), Some("a"));
        assert_eq!(variant_for_bucket(&v, 5_000), Some("b"));
        assert_eq!(variant_for_bucket(&v, 9_999), Some("b"));
    }

    #[test]
    fn disabled_flag_is_a_kill_switch() {
        let f = flag(false, &[("page", 0), ("drawer", 100)]);
        assert!((0..1000).all(|i| f.assign(&format!("a:{i}")) == "page"));
    }

    #[test]
    fn variant_specs_are_validated() {
        assert_eq!(Flag::parse_variants(" page:50, drawer:50 ").unwrap().len(), 2);
        assert_eq!(Flag::parse_variants("page:50"), Err(FlagError::TooFewVariants));
        assert_eq!(Flag::parse_variants("page:50,page:50"), Err(FlagError::BadVariantName));
        assert_eq!(Flag::parse_variants("Page!:50,x:1"), Err(FlagError::BadVariantName));
        assert_eq!(Flag::parse_variants("page:0,drawer:0"), Err(FlagError::BadWeights));
        assert_eq!(Flag::parse_variants("page:-1,drawer:5"), Err(FlagError::BadSyntax));
        assert_eq!(Flag::parse_variants("page,drawer"), Err(FlagError::BadSyntax));
        assert_eq!(Flag::parse_variants("page:9000,drawer:9000"), Err(FlagError::BadWeights));
    }

    #[test]
    fn two_proportion_matches_known_values() {
        // 200/1000 vs 250/1000: diff 0.05, unpooled SE 0.018641, pooled z 2.67740, p 0.0074196.
        let d = two_proportion((200, 1000), (250, 1000)).unwrap();
        assert!((d.diff - 0.05).abs() < 1e-12);
        assert!((d.ci_low - 0.013464).abs() < 1e-5, "{d:?}");
        assert!((d.ci_high - 0.086536).abs() < 1e-5, "{d:?}");
        assert!((d.z - 2.67740).abs() < 1e-4, "{d:?}");
        assert!((d.p_value - 0.0074196).abs() < 1e-6, "{d:?}");
        // No difference: z 0, p 1, interval symmetric around 0.
        let d = two_proportion((50, 500), (50, 500)).unwrap();
        assert!(d.z.abs() < 1e-12 && (d.p_value - 1.0).abs() < 1e-6 && (d.ci_low + d.ci_high).abs() < 1e-12);
        assert_eq!(two_proportion((0, 0), (1, 10)), None);
    }

    #[test]
    fn report_compares_each_variant_with_the_control() {
        let f = flag(true, &[("page", 50), ("drawer", 50)]);
        let counts = vec![
            VariantCounts {
                variant: "drawer".into(),
                subjects: 1000,
                steps: vec![(Step::AddToCart, 250), (Step::OrderPlaced, 30)],
            },
            VariantCounts { variant: "page".into(), subjects: 1000, steps: vec![(Step::AddToCart, 200)] },
            // A variant no longer configured is left out.
            VariantCounts { variant: "old".into(), subjects: 7, steps: vec![] },
        ];
        let r = report(&f, &counts);
        assert_eq!(r.variants.iter().map(|v| v.variant.as_str()).collect::<Vec<_>>(), ["page", "drawer"]);
        let page = &r.variants[0];
        assert!(page.steps.iter().all(|s| s.vs_control.is_none()));
        assert!((page.steps[0].rate - 0.2).abs() < 1e-12);
        let drawer = &r.variants[1];
        let add = drawer.steps[0].vs_control.unwrap();
        assert!((add.diff - 0.05).abs() < 1e-12 && add.ci_low > 0.0);
        assert_eq!(drawer.steps[1].conversions, 0);
        assert_eq!(drawer.steps[2].conversions, 30);
        assert!(!r.srm_warning);
        let skewed = vec![
            VariantCounts { variant: "page".into(), subjects: 5200, steps: vec![] },
            VariantCounts { variant: "drawer".into(), subjects: 4800, steps: vec![] },
        ];
        assert!(report(&f, &skewed).srm_warning);
        assert!(report(&f, &[]).srm.is_none());
    }

    #[test]
    fn normal_and_chi_square_tails() {
        assert!((normal_cdf(1.959964) - 0.975).abs() < 1e-6);
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-9);
        assert!((chi_square_survival(3.841459, 1) - 0.05).abs() < 1e-5);
        assert!((chi_square_survival(5.991465, 2) - 0.05).abs() < 1e-6);
        assert!((chi_square_survival(7.814728, 3) - 0.05).abs() < 1e-5);
        assert!((chi_square_survival(10.828, 1) - 0.001).abs() < 1e-5);
    }

    #[test]
    fn sample_ratio_mismatch_flags_bad_splits() {
        // 5000/5000 against 50/50: no mismatch.
        let (chi2, p) = sample_ratio_mismatch(&[5000, 5000], &[50, 50]).unwrap();
        assert!(chi2.abs() < 1e-12 && (p - 1.0).abs() < 1e-9);
        // 5200/4800: chi-square 16, p 6.3e-5.
        let (chi2, p) = sample_ratio_mismatch(&[5200, 4800], &[50, 50]).unwrap();
        assert!((chi2 - 16.0).abs() < 1e-9);
        assert!((p - 6.334e-5).abs() < 1e-6, "{p}");
        // 90/10 configured, 9000/1000 seen: fine.
        let (_, p) = sample_ratio_mismatch(&[9000, 1000], &[90, 10]).unwrap();
        assert!(p > 0.5);
        assert_eq!(sample_ratio_mismatch(&[0, 0], &[1, 1]), None);
        assert_eq!(sample_ratio_mismatch(&[3, 1], &[1, 0]), Some((f64::INFINITY, 0.0)));
    }
}
