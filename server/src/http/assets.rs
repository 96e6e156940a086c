//! The client code and styles (`pkg/`: the wasm, its JavaScript loader, the CSS) under URLs that
//! change with their content, `/assets/<fingerprint>/<file>`, served with
//! `Cache-Control: public, max-age=31536000, immutable`: a returning shopper's browser uses its
//! copy without asking, and a new build gets new URLs. The fingerprint covers every file of
//! `pkg/` together, so a page always names a wasm and a loader of the same build, and a request
//! for another fingerprint (a page from an older or newer build) is a 404, never the files of
//! this build under that build's name. The pages themselves stay `no-cache`.
//!
//! Each file is also compressed once with brotli at its best quality, on a thread of its own
//! after start: the wasm is most of a first visit's bytes, and compressing it per request at the
//! quality the compression layer can afford per request sent about a third more of it. Until that
//! copy is ready, answers go out as before (compressed on the fly by the layer).

use axum::{
    body::Bytes,
    extract::Path,
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, MethodRouter},
};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Hex digits of the digest in the URL: 64 bits, plenty to tell builds apart.
const FINGERPRINT_LEN: usize = 16;

/// The files of one build, read once: the fingerprint is the digest of exactly the bytes served
/// under it, so files rebuilt on disk while the server runs are never served under the old name
/// (a restart picks them up under a new one). Only the top-level wasm, JavaScript and CSS of
/// `pkg/` are served, by exact name: nothing else of the disk is reachable through this route.
pub struct ClientFiles {
    fingerprint: String,
    files: HashMap<String, ClientFile>,
}

struct ClientFile {
    content_type: &'static str,
    body: Bytes,
    /// The same bytes in brotli at quality 11, once compressed.
    brotli: OnceLock<Bytes>,
}

impl ClientFiles {
    fn load(pkg: &std::path::Path) -> ClientFiles {
        let mut names: Vec<(String, &'static str)> = std::fs::read_dir(pkg)
            .map(|dir| {
                dir.filter_map(Result::ok)
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                    .filter_map(|e| {
                        let name = e.file_name().into_string().ok()?;
                        content_type(&name).map(|ct| (name, ct))
                    })
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        let mut digest = Sha256::new();
        let mut files = HashMap::new();
        for (name, ct) in names {
            let Ok(body) = std::fs::read(pkg.join(&name)) else { continue };
            // Lengths first, so no two different sets of files hash the same bytes.
            digest.update((name.len() as u64).to_le_bytes());
            digest.update(name.as_bytes());
            digest.update((body.len() as u64).to_le_bytes());
            digest.update(&body);
            files.insert(name, ClientFile { content_type: ct, body: Bytes::from(body), brotli: OnceLock::new() });
        }
        let hex: String = digest.finalize().iter().map(|b| format!("{b:02x}")).collect();
        ClientFiles { fingerprint: hex[..FINGERPRINT_LEN].to_string(), files }
    }

    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Compresses every file at brotli's best quality (seconds of one core for the wasm).
    fn compress(&self) {
        let params = brotli::enc::BrotliEncoderParams { quality: 11, lgwin: 22, ..Default::default() };
        for file in self.files.values() {
            let mut out = Vec::with_capacity(file.body.len() / 3);
            if brotli::BrotliCompress(&mut &file.body[..], &mut out, &params).is_ok() {
                let _ = file.brotli.set(Bytes::from(out));
            }
        }
    }
}

fn content_type(name: &str) -> Option<&'static str> {
    match name.rsplit_once('.')?.1 {
        "wasm" => Some("application/wasm"),
        "js" => Some("text/javascript; charset=utf-8"),
        "css" => Some("text/css; charset=utf-8"),
        _ => None,
    }
}

/// The client files under `site_root`, read the first time they are asked for and kept for the
/// life of the process (one site root in a server; the tests' servers share theirs).
pub fn client_files(site_root: &str) -> Arc<ClientFiles> {
    static LOADED: OnceLock<Mutex<HashMap<String, Arc<ClientFiles>>>> = OnceLock::new();
    let mut loaded = LOADED.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
    loaded
        .entry(site_root.to_string())
        .or_insert_with(|| {
            let files = Arc::new(ClientFiles::load(&std::path::Path::new(site_root).join("pkg")));
            let compressing = files.clone();
            // A plain thread: this runs before (and outside) any async runtime, and it is CPU work.
            let started =
                std::thread::Builder::new().name("brotli-client-files".into()).spawn(move || compressing.compress());
            if let Err(e) = started {
                tracing::warn!(error = %e, "client files are compressed per request");
            }
            files
        })
        .clone()
}

/// Whether `Accept-Encoding` lists brotli with a non-zero weight.
fn accepts_brotli(headers: &header::HeaderMap) -> bool {
    headers.get_all(header::ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(
        |coding| {
            let mut parts = coding.split(';').map(str::trim);
            parts.next().is_some_and(|name| name.eq_ignore_ascii_case("br"))
                && parts.all(|p| p.strip_prefix("q=").is_none_or(|q| q.parse::<f32>().is_ok_and(|q| q > 0.0)))
        },
    )
}

/// The URL folder (without the leading slash) the pages name the files of `fingerprint` under.
pub fn url_dir(fingerprint: &str) -> String {
    format!("assets/{fingerprint}")
}

/// The route `GET /assets/{fingerprint}/{*file}`: a file of this build if the fingerprint is this
/// build's, else a 404. The files are looked up once here, not per request. Under
/// `cargo leptos watch` the pages name `/pkg/` and this route serves nothing.
pub fn route<S: Clone + Send + Sync + 'static>(options: &leptos::prelude::LeptosOptions) -> MethodRouter<S> {
    let files = client_files(&options.site_root);
    let serving = (*options.site_pkg_dir == url_dir(files.fingerprint())).then_some(files);
    get(move |Path((fingerprint, file)): Path<(String, String)>, headers: header::HeaderMap| {
        let found =
            serving.as_ref().filter(|files| files.fingerprint == fingerprint).and_then(|f| f.answer(&file, &headers));
        std::future::ready(found.unwrap_or_else(not_here))
    })
}

impl ClientFiles {
    /// The file named `name`, in brotli when the client takes it and the copy is ready.
    fn answer(&self, name: &str, headers: &header::HeaderMap) -> Option<Response> {
        let found = self.files.get(name)?;
        let mut res = match found.brotli.get().filter(|_| accepts_brotli(headers)) {
            Some(compressed) => {
                let mut res = compressed.clone().into_response();
                res.headers_mut().insert(header::CONTENT_ENCODING, HeaderValue::from_static("br"));
                res
            }
            None => found.body.clone().into_response(),
        };
        let h = res.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(found.content_type));
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE));
        h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        Some(res)
    }
}

fn not_here() -> Response {
    (StatusCode::NOT_FOUND, [(header::CACHE_CONTROL, "no-store")], "Not found").into_response()
}

#[cfg(test)]
mod tests {
    use super::ClientFiles;

    fn fingerprint(dir: &std::path::Path) -> String {
        ClientFiles::load(dir).fingerprint().to_string()
    }

    #[test]
    fn the_fingerprint_changes_with_any_served_file_and_only_then() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, body: &str| std::fs::write(dir.path().join(name), body).unwrap();
        write("shop.js", "loader");
        write("shop.wasm", "code");
        let first = fingerprint(dir.path());
        assert_eq!(first.len(), 16);
        assert!(first.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(fingerprint(dir.path()), first, "same files, same fingerprint");
        write("shop.d.ts", "types");
        assert_eq!(fingerprint(dir.path()), first, "a file that is not served is not in it");
        write("shop.wasm", "code2");
        let second = fingerprint(dir.path());
        assert_ne!(second, first, "a changed wasm changes it");
        write("shop.css", "");
        assert_ne!(fingerprint(dir.path()), second, "a new file changes it");
        // Moving bytes from one file's name to its content is another build.
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        std::fs::write(a.path().join("x.css"), "1.css").unwrap();
        std::fs::write(b.path().join("x.css1.css"), "").unwrap();
        assert_ne!(fingerprint(a.path()), fingerprint(b.path()));
    }

    #[test]
    fn brotli_is_chosen_only_when_accepted() {
        let accepts = |v: &str| {
            let mut h = axum::http::HeaderMap::new();
            h.insert(axum::http::header::ACCEPT_ENCODING, v.parse().unwrap());
            super::accepts_brotli(&h)
        };
        assert!(accepts("gzip, deflate, br"));
        assert!(accepts("br;q=0.5, gzip"));
        assert!(accepts("BR"));
        assert!(!accepts("gzip, deflate"));
        assert!(!accepts("br;q=0"));
        assert!(!accepts("br;q=0.0, gzip"));
        assert!(!accepts("brotli"));
        assert!(!accepts("br;q=x"));
        assert!(!super::accepts_brotli(&axum::http::HeaderMap::new()));
    }

    #[test]
    fn the_compressed_copy_is_the_same_file() {
        let dir = tempfile::tempdir().unwrap();
        let body = "export function hydrate() {}\n".repeat(500);
        std::fs::write(dir.path().join("shop.js"), &body).unwrap();
        let files = ClientFiles::load(dir.path());
        files.compress();
        let compressed = files.files["shop.js"].brotli.get().expect("compressed").clone();
        assert!(compressed.len() * 20 < body.len(), "{} of {} bytes", compressed.len(), body.len());
        let mut out = String::new();
        std::io::Read::read_to_string(&mut brotli::Decompressor::new(&compressed[..], 4096), &mut out).unwrap();
        assert_eq!(out, body);
    }

    #[test]
    fn only_top_level_client_files_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("shop.wasm"), "code").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "secret").unwrap();
        std::fs::create_dir(dir.path().join("snippets")).unwrap();
        std::fs::write(dir.path().join("snippets/x.js"), "js").unwrap();
        let files = ClientFiles::load(dir.path());
        let mut names: Vec<_> = files.files.keys().cloned().collect();
        names.sort();
        assert_eq!(names, ["shop.wasm"]);
    }
}
