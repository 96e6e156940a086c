# Shared set-up for scripts/run and scripts/test. Every step checks first and installs only what
# is missing, so running again is quick. Sourced, not executed.

set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$REPO_ROOT/target}"
export PATH="$HOME/.cargo/bin:$REPO_ROOT/end2end/node_modules/.bin:$PATH"
SERVER_BIN="$CARGO_TARGET_DIR/release/server"
# cargo-leptos compiles with LEPTOS_OUTPUT_NAME set and leptos records it; setting it for plain
# cargo commands too keeps them from rebuilding the leptos crates after every cargo leptos build.
export LEPTOS_OUTPUT_NAME=shop
CARGO_LEPTOS_VERSION="0.3.5"

log() { printf '\033[1;36m==> [%dm%02ds] %s\033[0m\n' $((SECONDS / 60)) $((SECONDS % 60)) "$*"; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "need root to run: $*" >&2; return 1; fi
}

APT_UPDATED=""
apt_install() {
  command -v apt-get >/dev/null || { echo "apt-get not found: please install $* yourself" >&2; return 1; }
  if [ -z "$APT_UPDATED" ]; then as_root apt-get update -qq; APT_UPDATED=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

ensure_rust_tools() {
  command -v cargo >/dev/null || { echo "Rust is required: https://rustup.rs" >&2; exit 1; }
  if ! rustup target list --installed 2>/dev/null | grep -q '^wasm32-unknown-unknown$'; then
    log "adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
  fi
  if ! cargo leptos --version 2>/dev/null | grep -q "$CARGO_LEPTOS_VERSION"; then
    log "installing cargo-leptos $CARGO_LEPTOS_VERSION (takes a while, once)"
    cargo install cargo-leptos@"$CARGO_LEPTOS_VERSION" --locked
  fi
  # The CLI must match the wasm-bindgen crate in Cargo.lock exactly.
  local want
  want="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)"
  if ! wasm-bindgen --version 2>/dev/null | grep -q " $want\$"; then
    log "installing wasm-bindgen-cli $want"
    cargo install wasm-bindgen-cli --version "$want"
  fi
}

ensure_node_packages() {
  if ! command -v npm >/dev/null; then
    log "installing Node.js and npm"
    apt_install nodejs npm
  fi
  # npm ci only when the lock file changed since the last install.
  local stamp="end2end/node_modules/.package-lock.json"
  if [ ! -f "$stamp" ] || [ end2end/package-lock.json -nt "$stamp" ]; then
    log "installing npm packages (Playwright, axe-core, binaryen's wasm-opt)"
    (cd end2end && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

build_shop() {
  log "building the shop (wasm + server, release)"
  cargo leptos build --release
}
