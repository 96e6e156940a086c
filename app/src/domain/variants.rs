//! Choosing a variant: which one a product page shows for the options picked (or a shared
//! `?variant=<sku>` link), and what the option pickers say about every other value.

use crate::model::Variant;

/// "Size: M / Colour: Navy"; options without a name are left out; empty for a product without
/// options.
pub fn option_label(names: &[String], values: &[String]) -> String {
    names
        .iter()
        .zip(values)
        .filter(|(n, v)| !n.is_empty() && !v.is_empty())
        .map(|(n, v)| format!("{n}: {v}"))
        .collect::<Vec<_>>()
        .join(" / ")
}

/// The shareable address of a product page showing one variant: `/p/<slug>?variant=<sku>`, the
/// SKU percent-encoded (an imported SKU may hold any character). Used in `Location` headers too.
pub fn variant_href(slug: &str, sku: &str) -> String {
    use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
    const KEEP: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
    format!("/p/{slug}?variant={}", utf8_percent_encode(sku, KEEP))
}

/// The variant a product page shows: the one whose SKU was asked for; else the one matching every
/// picked value; else the first in stock among those matching what was picked (a partial or
/// impossible choice still lands on something sensible); else the first. `variants` is never
/// empty for a real product; `None` only when it is.
pub fn pick<'a>(variants: &'a [Variant], sku: Option<&str>, picked: &[Option<String>]) -> Option<&'a Variant> {
    if let Some(v) = sku.and_then(|sku| variants.iter().find(|v| v.sku == sku)) {
        return Some(v);
    }
    let matches =
        |v: &Variant, i: usize, want: &Option<String>| want.as_ref().is_none_or(|w| v.values.get(i) == Some(w));
    let fits = |v: &&Variant| picked.iter().enumerate().all(|(i, want)| matches(v, i, want));
    if !picked.is_empty() && picked.iter().all(Option::is_some) {
        if let Some(v) = variants.iter().find(fits) {
            return Some(v);
        }
    }
    // Keep as much of the choice as possible: drop picked values from the last until something fits.
    for keep in (0..=picked.len()).rev() {
        let prefix = &picked[..keep];
        let fits_prefix = |v: &&Variant| prefix.iter().enumerate().all(|(i, want)| matches(v, i, want));
        if let Some(v) = variants.iter().filter(fits_prefix).find(|v| v.stock > 0) {
            return Some(v);
        }
    }
    variants.first()
}

/// What picking one value of an option would lead to, given the other options as chosen now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueState {
    Available,
    SoldOut,
    /// No variant has this value with the other options as chosen.
    Missing,
}

/// One value of an option, as the picker shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OptionValue {
    pub value: String,
    pub state: ValueState,
    pub selected: bool,
}

/// For each option, its values (in the order variants first use them) and what each would lead
/// to alongside `chosen`'s other values.
pub fn option_values(option_count: usize, variants: &[Variant], chosen: &Variant) -> Vec<Vec<OptionValue>> {
    (0..option_count)
        .map(|i| {
            let mut values: Vec<String> = Vec::new();
            for v in variants {
                if let Some(value) = v.values.get(i) {
                    if !values.contains(value) {
                        values.push(value.clone());
                    }
                }
            }
            values
                .into_iter()
                .map(|value| {
                    let with = variants.iter().find(|v| {
                        v.values.get(i) == Some(&value)
                            && v.values.iter().enumerate().all(|(j, x)| j == i || chosen.values.get(j) == Some(x))
                    });
                    let state = match with {
                        Some(v) if v.stock > 0 => ValueState::Available,
                        Some(_) => ValueState::SoldOut,
                        None => ValueState::Missing,
                    };
                    OptionValue { selected: chosen.values.get(i) == Some(&value), value, state }
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn variant(id: i64, values: &[&str], stock: i64) -> Variant {
        Variant {
            id,
            sku: format!("sku-{id}"),
            values: values.iter().map(|s| s.to_string()).collect(),
            price_cents: 1000 + id,
            compare_at_cents: None,
            stock,
            image: String::new(),
        }
    }

    fn shirt() -> Vec<Variant> {
        vec![
            variant(1, &["S", "Navy"], 0),
            variant(2, &["M", "Navy"], 4),
            variant(3, &["L", "Navy"], 2),
            variant(4, &["S", "Red"], 3),
            variant(5, &["M", "Red"], 0),
        ]
    }

    fn some(values: &[&str]) -> Vec<Option<String>> {
        values.iter().map(|s| Some(s.to_string())).collect()
    }

    #[test]
    fn variant_links_encode_the_sku() {
        assert_eq!(variant_href("tee-7", "tee-7-m-navy"), "/p/tee-7?variant=tee-7-m-navy");
        assert_eq!(variant_href("tee", "A B/&\r\n\u{e9}"), "/p/tee?variant=A%20B%2F%26%0D%0A%C3%A9");
    }

    #[test]
    fn labels_name_each_option() {
        let names = vec!["Size".to_string(), "Colour".to_string()];
        assert_eq!(option_label(&names, &["M".into(), "Navy".into()]), "Size: M / Colour: Navy");
        assert_eq!(option_label(&[], &[]), "");
    }

    #[test]
    fn a_sku_wins_then_an_exact_choice() {
        let vs = shirt();
        assert_eq!(pick(&vs, Some("sku-5"), &some(&["S", "Navy"])).map(|v| v.id), Some(5));
        assert_eq!(pick(&vs, Some("nope"), &some(&["L", "Navy"])).map(|v| v.id), Some(3));
        // Sold out is still shown when it is exactly what was picked.
        assert_eq!(pick(&vs, None, &some(&["M", "Red"])).map(|v| v.id), Some(5));
    }

    #[test]
    fn an_impossible_choice_keeps_what_it_can() {
        let vs = shirt();
        // There is no large red: keep "L" and find one in stock.
        assert_eq!(pick(&vs, None, &some(&["L", "Red"])).map(|v| v.id), Some(3));
        // Nothing picked: the first in stock.
        assert_eq!(pick(&vs, None, &[]).map(|v| v.id), Some(2));
        assert_eq!(pick(&vs, None, &[None, Some("Red".into())]).map(|v| v.id), Some(4));
        assert_eq!(pick(&[], None, &[]), None);
    }

    #[test]
    fn the_picker_marks_missing_and_sold_out_combinations() {
        let vs = shirt();
        let chosen = &vs[1]; // M / Navy
        let states = option_values(2, &vs, chosen);
        let sizes: Vec<(&str, ValueState, bool)> =
            states[0].iter().map(|o| (o.value.as_str(), o.state, o.selected)).collect();
        assert_eq!(
            sizes,
            vec![
                ("S", ValueState::SoldOut, false),
                ("M", ValueState::Available, true),
                ("L", ValueState::Available, false)
            ]
        );
        let colours: Vec<(&str, ValueState)> = states[1].iter().map(|o| (o.value.as_str(), o.state)).collect();
        assert_eq!(colours, vec![("Navy", ValueState::Available), ("Red", ValueState::SoldOut)]);
        let large = option_values(2, &vs, &vs[2]);
        assert_eq!(large[1][1].state, ValueState::Missing, "no large red");
    }

    proptest! {
        /// Whatever is asked, a page shows one of the product's own variants, and an exact choice
        /// of an existing combination is honoured.
        #[test]
        fn pick_always_lands_on_a_variant(
            stocks in proptest::collection::vec(0i64..3, 1..9),
            a in 0usize..4, b in 0usize..4,
        ) {
            let sizes = ["S", "M", "L"];
            let colours = ["Navy", "Red", "Sand"];
            let vs: Vec<Variant> = stocks.iter().enumerate()
                .map(|(i, s)| variant(i as i64 + 1, &[sizes[i % 3], colours[i / 3]], *s)).collect();
            let picked = vec![sizes.get(a).map(|s| s.to_string()), colours.get(b).map(|s| s.to_string())];
            let got = pick(&vs, None, &picked).unwrap();
            prop_assert!(vs.contains(got));
            if let (Some(x), Some(y)) = (&picked[0], &picked[1]) {
                if let Some(exact) = vs.iter().find(|v| &v.values[0] == x && &v.values[1] == y) {
                    prop_assert_eq!(got, exact);
                }
            }
            for (i, values) in option_values(2, &vs, got).iter().enumerate() {
                prop_assert_eq!(values.iter().filter(|o| o.selected).count(), 1, "option {} has one selected value", i);
            }
        }
    }
}
