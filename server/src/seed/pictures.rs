//! Pictures of the demo products: one drawing per product noun of `demo_catalogue.toml`, in
//! `public/img/p/{noun-slug}.svg`, so a "Heritage Baking Sheet" shows a baking sheet whatever its
//! qualifier. Clothes and shoes are also drawn in each of [`COLOURS`]
//! (`public/img/p/{noun-slug}-{colour-slug}.svg`), for pictures per variant.
//!
//! The drawings are plain SVG files (400×400, a soft background per department, no text or
//! scripts beyond what the object needs). A new noun in the data file needs its drawing, and a
//! new apparel or shoes noun its coloured ones too: the demo tests list any that are missing.

use super::slug::slugify;
use serde::Deserialize;
use std::collections::HashSet;
use std::sync::LazyLock;

/// The colours in which every apparel and shoes noun is drawn.
pub const COLOURS: [&str; 5] = ["Black", "Navy", "Sand", "Forest", "Red"];

/// The departments whose nouns are also drawn in each of [`COLOURS`]: the ones whose products
/// come in colours.
pub(super) const COLOURED_DEPARTMENTS: [&str; 2] = ["apparel", "shoes"];

/// The picture of a product noun ("Baking Sheet" → `/img/p/baking-sheet.svg`).
pub fn picture(noun: &str) -> String {
    format!("/img/p/{}.svg", slugify(noun))
}

/// The picture of a product noun in one of [`COLOURS`] (matched by slug, so "navy" works too),
/// or `None` when the noun is not drawn in colours (only apparel and shoes are) or the colour
/// is not one of them.
pub fn coloured_picture(noun: &str, colour: &str) -> Option<String> {
    let colour = slugify(colour);
    let known = COLOURS.iter().any(|c| slugify(c) == colour);
    (known && coloured_nouns().contains(noun)).then(|| format!("/img/p/{}-{colour}.svg", slugify(noun)))
}

/// The nouns of [`COLOURED_DEPARTMENTS`], read from the same data file as the generator, so a
/// noun added there is known here without a second list to keep in step.
fn coloured_nouns() -> &'static HashSet<String> {
    // Only the fields needed here; serde skips the rest of each entry.
    #[derive(Deserialize)]
    struct Catalogue {
        department: Vec<Department>,
    }
    #[derive(Deserialize)]
    struct Department {
        slug: String,
        nouns: Vec<Noun>,
    }
    #[derive(Deserialize)]
    struct Noun {
        name: String,
    }
    static NOUNS: LazyLock<HashSet<String>> = LazyLock::new(|| {
        let data: Catalogue =
            toml::from_str(include_str!("demo_catalogue.toml")).unwrap_or_else(|e| panic!("demo_catalogue.toml: {e}"));
        data.department
            .into_iter()
            .filter(|d| COLOURED_DEPARTMENTS.contains(&d.slug.as_str()))
            .flat_map(|d| d.nouns.into_iter().map(|n| n.name))
            .collect()
    });
    &NOUNS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_the_noun_slug() {
        assert_eq!(picture("Baking Sheet"), "/img/p/baking-sheet.svg");
        assert_eq!(picture("Crème Brûlée Torch"), "/img/p/creme-brulee-torch.svg");
        assert_eq!(picture("Chef's Knife"), "/img/p/chefs-knife.svg");
        assert_eq!(coloured_picture("Chelsea Boot", "Navy").as_deref(), Some("/img/p/chelsea-boot-navy.svg"));
        assert_eq!(coloured_picture("Après-Ski Boot", "forest").as_deref(), Some("/img/p/apres-ski-boot-forest.svg"));
        assert_eq!(coloured_picture("Denim Jacket", "Red").as_deref(), Some("/img/p/denim-jacket-red.svg"));
    }

    #[test]
    fn only_clothes_and_shoes_in_known_colours() {
        assert_eq!(coloured_picture("Skillet", "Black"), None, "kitchen nouns have no colour versions");
        assert_eq!(coloured_picture("Chelsea Boot", "Purple"), None, "not one of the drawn colours");
        assert_eq!(coloured_picture("Chelsea", "Black"), None, "only whole nouns");
        assert!(coloured_nouns().contains("Organic Cotton T-Shirt") && coloured_nouns().contains("High-Top Sneaker"));
    }
}
