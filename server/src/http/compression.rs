//! Response compression, chosen by what the answer is.
//!
//! Profiled under load, compressing every answer over 32 bytes with brotli at quality 4 was a
//! fifth of an add-to-cart's CPU time: each answer sets up a fresh encoder (tables allocated and
//! zeroed) for a body of one or two kilobytes. So:
//! - nothing under `MIN_BYTES` is compressed: such an answer fits in one TCP segment either way,
//!   so compressing it cannot make it arrive sooner;
//! - API answers (JSON, made per request) are compressed only from `API_MIN_BYTES`, and at the
//!   fastest setting, which on a cart answer gives within about 10% of the size at a third of the
//!   time. Below that size, even at level 1, setting up the encoder (its tables allocated and
//!   zeroed) was still a tenth of a cart read's CPU time (perf, after the session copy), while
//!   the answer arrives in the same round trip either way (a new connection may send ten
//!   segments, about 14 KB, before its first acknowledgement) and on a slow 4G link (1.6 Mbit/s)
//!   the bytes saved are worth under 15 ms;
//! - pages, scripts and styles keep the default setting, where the larger saving is worth it.
//!
//! Browsers that accept zstd (Chromium and Firefox send `gzip, deflate, br, zstd`) get zstd,
//! which tower-http prefers when the weights are equal; the others get brotli. On a rendered
//! page, brotli at its default (quality 4 with a 4 MB window whose tables are allocated and zeroed
//! for every answer) was more than half of the server's instructions per page (callgrind, a
//! 29 KB category page: about 4.5 of 7.8 million); zstd at its default level 3 does that page in
//! about a quarter of brotli's instructions for 5% more bytes (5,464 against 5,182), and at level 1
//! (API answers) in an eighth. Gzip 6 would match brotli's size at about two thirds of its cost.

use axum::http::{header, HeaderMap, StatusCode, Version};
use tower_http::compression::predicate::{NotForContentType, Predicate, SizeAbove};
use tower_http::compression::{CompressionLayer, CompressionLevel};

/// Smallest body worth compressing: about one Ethernet segment's payload.
pub const MIN_BYTES: u16 = 1400;
/// Smallest API answer worth compressing (a cart of about ten lines).
pub const API_MIN_BYTES: u16 = 4096;

fn is_json(headers: &HeaderMap) -> bool {
    headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("application/json"))
}

/// Bodies worth compressing at all: at least `min_bytes`, and not already compressed (images)
/// or a stream that must not be held back (server-sent events).
fn worth_it(min_bytes: u16) -> impl Predicate {
    SizeAbove::new(min_bytes).and(NotForContentType::IMAGES).and(NotForContentType::SSE).and(NotForContentType::GRPC)
}

/// The inner layer: JSON answers, at the fastest level.
pub fn for_api() -> CompressionLayer<impl Predicate> {
    let json = |_: StatusCode, _: Version, headers: &HeaderMap, _: &axum::http::Extensions| is_json(headers);
    CompressionLayer::new().quality(CompressionLevel::Precise(1)).compress_when(worth_it(API_MIN_BYTES).and(json))
}

/// The outer layer: everything else (pages, scripts, styles), at the default level. It leaves
/// alone what the inner layer compressed (an answer with `Content-Encoding` is never
/// compressed twice).
pub fn for_the_rest() -> CompressionLayer<impl Predicate> {
    let not_json = |_: StatusCode, _: Version, headers: &HeaderMap, _: &axum::http::Extensions| !is_json(headers);
    CompressionLayer::new().compress_when(worth_it(MIN_BYTES).and(not_json))
}
