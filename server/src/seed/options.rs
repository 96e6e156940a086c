//! Options and variants of the demo catalogue: clothes in sizes and colours, shoes in sizes (some
//! in colours too), a few sizes dearer, a few variants sold out, colour variants with their own
//! picture. Everything else has one variant, whose SKU is the product's slug and whose id is the
//! product's (as the migration to variants gave every existing product).
//!
//! Derived from the product id alone, so the same catalogue comes out on every machine without
//! touching the product generator's random streams.

use super::demo::DemoProduct;

/// Category ids (see `demo_catalogue.toml`: departments in order from 1).
const APPAREL: i64 = 7;
const SHOES: i64 = 8;
const CLOTHES_SIZES: [&str; 5] = ["XS", "S", "M", "L", "XL"];
const SHOE_SIZES: [&str; 8] = ["38", "39", "40", "41", "42", "43", "44", "45"];
/// Where the ids of variants beyond a product's first begin: far above any product id, so the
/// rule "a one-variant product's variant has the product's id" never collides with them.
const VARIANT_IDS: i64 = 100_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoVariant {
    pub id: i64,
    pub sku: String,
    pub values: Vec<String>,
    pub price_cents: i64,
    pub compare_at_cents: Option<i64>,
    pub stock: i64,
    /// Empty: the product's picture.
    pub image: String,
}

/// A product's option names and variants.
pub fn variants(
    p: &DemoProduct,
    coloured_picture: impl Fn(&str) -> Option<String>,
) -> (Vec<&'static str>, Vec<DemoVariant>) {
    let h = mix(p.id as u64);
    // Two products in three of each kind get options; the rest stay single.
    let with_options = !h.is_multiple_of(3);
    let (names, combos): (Vec<&'static str>, Vec<Vec<String>>) = match p.category_id {
        APPAREL if with_options => {
            let colours = pick_colours(h);
            let combos = colours
                .iter()
                .flat_map(|c| CLOTHES_SIZES.iter().map(move |s| vec![s.to_string(), c.to_string()]))
                .collect();
            (vec!["Size", "Colour"], combos)
        }
        SHOES if with_options && h.is_multiple_of(4) => {
            let colours = &pick_colours(h)[..2];
            let combos = colours
                .iter()
                .flat_map(|c| SHOE_SIZES[1..7].iter().map(move |s| vec![s.to_string(), c.to_string()]))
                .collect();
            (vec!["Size", "Colour"], combos)
        }
        SHOES if with_options => (vec!["Size"], SHOE_SIZES.iter().map(|s| vec![s.to_string()]).collect()),
        _ => {
            let only = DemoVariant {
                id: p.id,
                sku: p.slug.clone(),
                values: vec![],
                price_cents: p.price_cents,
                compare_at_cents: None,
                stock: p.stock,
                image: String::new(),
            };
            return (vec![], vec![only]);
        }
    };
    let variants = combos
        .into_iter()
        .enumerate()
        .map(|(k, values)| {
            let v = mix(h ^ (k as u64 + 1));
            // XL costs a little more; shoes cost the same in every size.
            let price_cents = if values[0] == "XL" { p.price_cents + 200 } else { p.price_cents };
            // About one in seven sold out; a sold-out product stays sold out in every variant.
            let stock = if p.stock == 0 || v.is_multiple_of(7) { 0 } else { 1 + (v % 40) as i64 };
            let image = values.get(1).and_then(|c| coloured_picture(c)).unwrap_or_default();
            let sku = format!("{}-{}", p.slug, values.iter().map(|x| x.to_lowercase()).collect::<Vec<_>>().join("-"));
            // Some clothes are on sale: the "was" price is shown struck through.
            let compare_at_cents = (p.category_id == APPAREL && h % 5 == 1).then_some(price_cents + price_cents / 4);
            DemoVariant {
                id: if k == 0 { p.id } else { VARIANT_IDS + p.id * 100 + k as i64 },
                sku,
                values,
                price_cents,
                compare_at_cents,
                stock,
                image,
            }
        })
        .collect();
    (names, variants)
}

fn pick_colours(h: u64) -> Vec<&'static str> {
    const COLOURS: [&str; 5] = ["Black", "Navy", "Sand", "Forest", "Red"];
    let start = (h / 3 % 5) as usize;
    (0..3).map(|i| COLOURS[(start + i * 2) % 5]).collect()
}

/// splitmix64's finaliser: a well-spread value from an id.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn a_realistic_share_has_options_and_every_variant_is_unique() {
        let products = super::super::demo::products();
        let mut ids = HashSet::new();
        let mut skus = HashSet::new();
        let mut with_options = 0;
        let mut sold_out_variants = 0;
        let mut dearer = 0;
        for p in &products {
            let (names, vs) = variants(p, |c| Some(format!("/img/x-{c}.svg")));
            assert!(!vs.is_empty());
            if names.is_empty() {
                assert_eq!((vs.len(), vs[0].id, vs[0].sku.as_str()), (1, p.id, p.slug.as_str()));
            } else {
                with_options += 1;
                assert!(vs.iter().all(|v| v.values.len() == names.len()));
                let combos: HashSet<_> = vs.iter().map(|v| v.values.clone()).collect();
                assert_eq!(combos.len(), vs.len(), "{}: each combination once", p.slug);
                sold_out_variants += vs.iter().filter(|v| v.stock == 0).count();
                dearer += vs.iter().filter(|v| v.price_cents > p.price_cents).count();
            }
            for v in &vs {
                assert!(ids.insert(v.id), "variant id {} twice", v.id);
                assert!(skus.insert(v.sku.clone()), "sku {} twice", v.sku);
            }
        }
        assert!((40..=70).contains(&with_options), "{with_options} products with options");
        assert!(sold_out_variants > 10 && dearer > 10, "{sold_out_variants} sold out, {dearer} dearer");
    }

    #[test]
    fn every_variant_picture_is_shipped() {
        let public = concat!(env!("CARGO_MANIFEST_DIR"), "/../public");
        let mut coloured = 0;
        for p in &super::super::demo::products() {
            let (_, vs) = variants(p, |c| super::super::colour_picture(&p.image, c));
            for v in vs.iter().filter(|v| !v.image.is_empty()) {
                coloured += 1;
                assert!(std::path::Path::new(&format!("{public}{}", v.image)).is_file(), "{} is missing", v.image);
                assert_ne!(v.image, p.image);
            }
        }
        assert!(coloured > 100, "{coloured} variants have their own picture");
    }
}
