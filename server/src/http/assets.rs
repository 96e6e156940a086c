//! The client code and styles (`pkg/`: the wasm, its JavaScript loader, the CSS) under URLs that
//! change with their content, `/assets/<fingerprint>/<file>`, served with
//! `Cache-Control: public, max-age=31536000, immutable`: a returning shopper's browser uses its
//! copy without asking, and a new build gets new URLs. The fingerprint covers every file of
//! `pkg/` together, so a page always names a wasm and a loader of the same build, and a request
//! for another fingerprint (a page from an older or newer build) is a 404, never the files of
//! this build under that build's name. The pages themselves stay `no-cache`.

use app::state::AppState;
use axum::{
    extract::{Path, Request, State},
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use sha2::{Digest, Sha256};
use tower::ServiceExt;
use tower_http::services::ServeDir;

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Hex digits of the digest in the URL: 64 bits, plenty to tell builds apart.
const FINGERPRINT_LEN: usize = 16;

/// The digest of every file in `pkg` (names and contents, in name order); the same for a folder
/// that is missing or empty (a server run without a client build).
pub fn fingerprint(pkg: &std::path::Path) -> String {
    let mut files: Vec<_> = std::fs::read_dir(pkg)
        .map(|dir| dir.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.is_file()).collect())
        .unwrap_or_default();
    files.sort();
    let mut digest = Sha256::new();
    for file in files {
        let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let body = std::fs::read(&file).unwrap_or_default();
        // Lengths first, so no two different sets of files hash the same bytes.
        digest.update((name.len() as u64).to_le_bytes());
        digest.update(name.as_bytes());
        digest.update((body.len() as u64).to_le_bytes());
        digest.update(&body);
    }
    digest.finalize().iter().map(|b| format!("{b:02x}")).collect::<String>()[..FINGERPRINT_LEN].to_string()
}

/// The URL folder (without the leading slash) the pages name the files of `fingerprint` under.
pub fn url_dir(fingerprint: &str) -> String {
    format!("assets/{fingerprint}")
}

/// `GET /assets/{fingerprint}/{*file}`: a file of `pkg/` if the fingerprint is this build's.
pub async fn serve(
    State(state): State<AppState>,
    Path((fingerprint, _file)): Path<(String, String)>,
    req: Request,
) -> Response {
    let options = &state.leptos_options;
    let prefix = format!("/{}", url_dir(&fingerprint));
    let rest = match req.uri().path().strip_prefix(&prefix) {
        Some(rest) if *options.site_pkg_dir == prefix[1..] => rest.to_owned(),
        _ => return not_here(),
    };
    // ServeDir resolves the rest inside `pkg/` (it refuses `..` and absolute paths).
    let Ok(uri) = rest.parse::<axum::http::Uri>() else { return not_here() };
    let (mut parts, body) = req.into_parts();
    parts.uri = uri;
    let pkg = std::path::Path::new(options.site_root.as_ref()).join("pkg");
    let Ok(mut res) =
        ServeDir::new(pkg).oneshot(Request::from_parts(parts, body)).await.map(IntoResponse::into_response);
    let value = if res.status().is_success() { IMMUTABLE } else { "no-store" };
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static(value));
    res
}

fn not_here() -> Response {
    (StatusCode::NOT_FOUND, [(header::CACHE_CONTROL, "no-store")], "Not found").into_response()
}

#[cfg(test)]
mod tests {
    use super::fingerprint;

    #[test]
    fn the_fingerprint_changes_with_any_file_and_only_then() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, body: &str| std::fs::write(dir.path().join(name), body).unwrap();
        write("shop.js", "loader");
        write("shop.wasm", "code");
        let first = fingerprint(dir.path());
        assert_eq!(first.len(), 16);
        assert!(first.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(fingerprint(dir.path()), first, "same files, same fingerprint");
        write("shop.wasm", "code2");
        let second = fingerprint(dir.path());
        assert_ne!(second, first, "a changed wasm changes it");
        write("shop.css", "");
        assert_ne!(fingerprint(dir.path()), second, "a new file changes it");
        // Moving bytes from one file's name to its content is another build.
        let other = tempfile::tempdir().unwrap();
        std::fs::write(other.path().join("a"), "bc").unwrap();
        let third = tempfile::tempdir().unwrap();
        std::fs::write(third.path().join("ab"), "c").unwrap();
        assert_ne!(fingerprint(other.path()), fingerprint(third.path()));
    }
}
