use leptos::prelude::*;
use leptos_meta::Title;

/// `<title>` for a page. leptos_meta 0.8.7 writes the server-side `<title>` text unescaped, so a
/// search for `</title><script>` would inject markup; escape it on the server. In the browser the
/// text goes to `document.title`, which is plain text, so it is left alone there.
#[component]
pub fn PageTitle(#[prop(into)] text: String) -> impl IntoView {
    view! { <Title text formatter=escape_on_server /> }
}

fn escape_on_server(text: String) -> String {
    if cfg!(feature = "ssr") {
        escape_html_text(&text)
    } else {
        text
    }
}

/// Escapes text for an HTML text context.
pub fn escape_html_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_markup() {
        assert_eq!(super::escape_html_text("</title><script>a&b"), "&lt;/title&gt;&lt;script&gt;a&amp;b");
    }
}
