//! Slugs of the demo's words (product slugs, picture file names), shared by the generator and
//! the pictures.

/// Lowercase ASCII slug: common Latin letters with diacritics are transliterated, apostrophes are
/// dropped, every other run of characters becomes a single `-`.
pub(super) fn slugify(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_dash = false;
    for c in text.chars().flat_map(char::to_lowercase) {
        let mut buf = [0u8; 4];
        let mapped: &str = match c {
            'a'..='z' | '0'..='9' => c.encode_utf8(&mut buf),
            '\'' | '\u{2019}' => continue,
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => "a",
            'æ' => "ae",
            'ç' => "c",
            'è' | 'é' | 'ê' | 'ë' => "e",
            'ì' | 'í' | 'î' | 'ï' => "i",
            'ñ' => "n",
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' => "o",
            'œ' => "oe",
            'ù' | 'ú' | 'û' | 'ü' => "u",
            'ý' | 'ÿ' => "y",
            'ß' => "ss",
            _ => {
                pending_dash = true;
                continue;
            }
        };
        if pending_dash && !out.is_empty() {
            out.push('-');
        }
        pending_dash = false;
        out.push_str(mapped);
    }
    out
}
