//! The site's build output under `/pkg` (WASM, JS, CSS), compressed once at brotli's and gzip's
//! best levels and served from memory.
//!
//! Why: the compression layer compresses every response as it streams, at a fast level (brotli
//! quality 4). The page's WASM then went out as 187 KB where brotli's best level makes 154 KB,
//! and every page load cost the server about 30 ms of CPU to compress it again (BENCHMARKS.md,
//! *Shipped assets*). The best level takes about a second for the WASM, so it is done once per
//! version of each file, on a blocking thread: the binary starts it at launch ([`Assets::warm`]),
//! and a request for a file not compressed yet starts it too. Until a file is ready, its requests
//! go on to the usual file handler and the compression layer, as before.
//!
//! Every request compares the file's size and modification time with the compressed copy's, so
//! a rebuilt file (`cargo leptos watch`) is never served stale.

use crate::request::ApiError;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use leptos::prelude::LeptosOptions;
use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// The compressed copies of one directory's files.
pub struct Assets {
    dir: PathBuf,
    /// The URL path the directory is served under, with both slashes: `/pkg/`.
    prefix: String,
    files: Mutex<HashMap<String, Entry>>,
}

/// Which version of a file a copy was made from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: SystemTime,
}

enum Entry {
    Compressing(Stamp),
    Ready(Arc<Asset>),
}

struct Asset {
    stamp: Stamp,
    content_type: HeaderValue,
    etag: HeaderValue,
    raw: Bytes,
    br: Bytes,
    gzip: Bytes,
}

/// A content coding the client accepts, in the server's order of preference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Coding {
    Br,
    Gzip,
    Identity,
}

impl Assets {
    /// The site's `pkg` directory (`site_root/site_pkg_dir`), served under `/{site_pkg_dir}/`.
    pub fn new(options: &LeptosOptions) -> Self {
        Assets {
            dir: Path::new(&*options.site_root).join(&*options.site_pkg_dir),
            prefix: format!("/{}/", options.site_pkg_dir),
            files: Mutex::default(),
        }
    }

    /// Compresses every servable file of the directory now, and returns when done. The binary
    /// spawns this at launch, so the first visitor already gets the small copies.
    pub async fn warm(self: Arc<Self>) {
        keep_large_blocks_mapped();
        let Ok(mut dir) = tokio::fs::read_dir(&self.dir).await else {
            return;
        };
        let mut started = Vec::new();
        while let Ok(Some(entry)) = dir.next_entry().await {
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            if content_type(&name).is_some()
                && let Ok(meta) = entry.metadata().await
                && let Some(task) = self.start(&name, stamp(&meta))
            {
                started.push(task);
            }
        }
        for task in started {
            let _ = task.await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        // Entries are replaced whole, so a panic elsewhere cannot leave one half-written.
        self.files.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The compressed copy of `name` if it was made from this version of the file.
    fn ready(&self, name: &str, stamp: Stamp) -> Option<Arc<Asset>> {
        match self.lock().get(name) {
            Some(Entry::Ready(asset)) if asset.stamp == stamp => Some(asset.clone()),
            _ => None,
        }
    }

    /// Starts compressing this version of `name` unless that is done or under way.
    fn start(self: &Arc<Self>, name: &str, stamp: Stamp) -> Option<tokio::task::JoinHandle<()>> {
        {
            let mut files = self.lock();
            match files.get(name) {
                Some(Entry::Compressing(s)) if *s == stamp => return None,
                Some(Entry::Ready(a)) if a.stamp == stamp => return None,
                _ => {}
            }
            files.insert(name.to_owned(), Entry::Compressing(stamp));
        }
        let (assets, name) = (self.clone(), name.to_owned());
        Some(tokio::task::spawn_blocking(move || {
            let path = assets.dir.join(&name);
            let made = compress(&path, &name, stamp);
            let mut files = assets.lock();
            match made {
                Some(asset) => {
                    files.insert(name, Entry::Ready(Arc::new(asset)));
                }
                // Unreadable, or changed while read: the next request tries again.
                None => {
                    files.remove(&name);
                }
            }
        }))
    }
}

/// Middleware: answers `GET`/`HEAD` of a compressed file from memory, and passes every other
/// request on.
pub async fn serve(State(assets): State<Arc<Assets>>, request: Request, next: Next) -> Response {
    let name = match (request.method(), request.uri().path().strip_prefix(&assets.prefix)) {
        (&Method::GET | &Method::HEAD, Some(name)) if is_file_name(name) && content_type(name).is_some() => {
            name.to_owned()
        }
        _ => return next.run(request).await,
    };
    let Ok(meta) = tokio::fs::metadata(assets.dir.join(&name)).await else {
        return next.run(request).await;
    };
    let stamp = stamp(&meta);
    let Some(asset) = assets.ready(&name, stamp) else {
        assets.start(&name, stamp);
        return next.run(request).await;
    };
    respond(&asset, request.headers())
}

fn respond(asset: &Asset, request: &HeaderMap) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, asset.content_type.clone());
    headers.insert(header::ETAG, asset.etag.clone());
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    let revalidated = request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| {
            let tag = tag.trim();
            tag == "*" || tag.trim_start_matches("W/") == asset.etag
        });
    if revalidated {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    let body = match negotiate(request) {
        Some(Coding::Br) => {
            headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("br"));
            asset.br.clone()
        }
        Some(Coding::Gzip) => {
            headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            asset.gzip.clone()
        }
        Some(Coding::Identity) => asset.raw.clone(),
        None => return ApiError::NotAcceptable.into_response(),
    };
    (headers, Body::from(body)).into_response()
}

/// The coding to send for the request's `Accept-Encoding` (RFC 9110 §12.5.3): the acceptable one
/// with the highest weight, brotli before gzip before identity on a tie; identity, unless weighed,
/// only when nothing else is acceptable. No header: identity.
/// `None` when nothing is acceptable (`identity;q=0` and no other).
fn negotiate(request: &HeaderMap) -> Option<Coding> {
    let values: Vec<&str> = request
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    if values.is_empty() {
        return Some(Coding::Identity);
    }
    let mut weights: HashMap<String, f32> = HashMap::new();
    for item in values.iter().flat_map(|v| v.split(',')) {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        if coding.is_empty() {
            continue;
        }
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q=").or_else(|| p.trim().strip_prefix("Q=")))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        weights.insert(coding, q);
    }
    let any = weights.get("*").copied();
    let weight = |name: &str, fallback: Option<f32>| weights.get(name).copied().or(fallback).unwrap_or(0.0);
    // Identity is acceptable unless excluded (by name, or by `*;q=0`), but when the client does
    // not weigh it, it comes last: a client that lists any coding would rather have that one.
    let candidates = [
        (Coding::Br, weight("br", any)),
        (Coding::Gzip, weight("gzip", any).max(weight("x-gzip", None))),
        (Coding::Identity, weight("identity", any.or(Some(f32::MIN_POSITIVE)))),
    ];
    candidates
        .into_iter()
        .filter(|(_, q)| *q > 0.0)
        .fold(None, |best: Option<(Coding, f32)>, (coding, q)| match best {
            Some((_, top)) if top >= q => best,
            _ => Some((coding, q)),
        })
        .map(|(coding, _)| coding)
}

/// A plain file name: no directories, nothing hidden.
fn is_file_name(name: &str) -> bool {
    !name.is_empty() && !name.starts_with('.') && !name.contains(['/', '\\'])
}

fn content_type(name: &str) -> Option<&'static str> {
    match name.rsplit_once('.')?.1 {
        "wasm" => Some("application/wasm"),
        "js" => Some("text/javascript"),
        "css" => Some("text/css"),
        _ => None,
    }
}

fn stamp(meta: &std::fs::Metadata) -> Stamp {
    Stamp {
        len: meta.len(),
        modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
    }
}

/// Keeps the compressors' big buffers out of the heap, so that freeing them gives the memory back.
///
/// Brotli's best level works in about 20 MB of buffers for the WASM. glibc serves allocations of
/// 128 KiB and more with their own `mmap`, unmapped on free, but raises that threshold after the
/// first such free; the buffers then come from the blocking thread's heap arena, whose top glibc
/// never trims (`malloc_trim` only trims the main arena's). The server's RSS stayed 8–11 MB
/// higher after compressing the site (18.8–21.7 MB instead of 10.5 MB in three launches). Fixing
/// the threshold at its default keeps large blocks on `mmap`; the server makes few of them.
fn keep_large_blocks_mapped() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes an allocator setting; it takes no pointers.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}

/// Reads and compresses `path`; `None` if it cannot be read or is not the version `stamp`
/// describes (it changed in between).
fn compress(path: &Path, name: &str, stamp: Stamp) -> Option<Asset> {
    let raw = std::fs::read(path).ok()?;
    if std::fs::metadata(path).ok().map(|m| self::stamp(&m)) != Some(stamp) || raw.len() as u64 != stamp.len {
        return None;
    }
    let br = brotli_best(&raw)?;
    let mut gzip = flate2::write::GzEncoder::new(Vec::with_capacity(raw.len() / 2), flate2::Compression::best());
    gzip.write_all(&raw).ok()?;
    let gzip = gzip.finish().ok()?;
    let nanos = stamp
        .modified
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    tracing::debug!(
        name,
        raw = raw.len(),
        br = br.len(),
        gzip = gzip.len(),
        "asset compressed"
    );
    Some(Asset {
        stamp,
        content_type: HeaderValue::from_static(content_type(name)?),
        etag: HeaderValue::from_str(&format!("\"{:x}-{nanos:x}\"", stamp.len)).ok()?,
        raw: raw.into(),
        br: br.into(),
        gzip: gzip.into(),
    })
}

/// Brotli at its best quality, with a window just large enough for the whole input. The default
/// 4 MiB window gains nothing on files this size, but its match-finder tables take about 32 MB
/// while compressing, and the allocator of the blocking thread keeps that memory afterwards (the
/// server's RSS grew by 15 MB at launch).
pub fn brotli_best(raw: &[u8]) -> Option<Vec<u8>> {
    let bits = usize::BITS - raw.len().max(1).saturating_sub(1).leading_zeros();
    let params = brotli::enc::BrotliEncoderParams {
        quality: 11,
        lgwin: bits.clamp(10, 22) as i32,
        size_hint: raw.len(),
        ..Default::default()
    };
    let mut out = Vec::with_capacity(raw.len() / 3);
    brotli::BrotliCompress(&mut &raw[..], &mut out, &params).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn negotiates_by_weight_then_preference() {
        assert_eq!(negotiate(&HeaderMap::new()), Some(Coding::Identity));
        assert_eq!(negotiate(&accept("gzip, deflate, br, zstd")), Some(Coding::Br));
        assert_eq!(negotiate(&accept("gzip")), Some(Coding::Gzip));
        assert_eq!(negotiate(&accept("br;q=0.5, gzip;q=0.8")), Some(Coding::Gzip));
        assert_eq!(negotiate(&accept("br;q=0, gzip;q=0")), Some(Coding::Identity));
        assert_eq!(negotiate(&accept("*")), Some(Coding::Br));
        assert_eq!(negotiate(&accept("deflate")), Some(Coding::Identity));
        assert_eq!(negotiate(&accept("identity;q=0")), None);
        assert_eq!(negotiate(&accept("*;q=0")), None);
        assert_eq!(negotiate(&accept("*;q=0, gzip")), Some(Coding::Gzip));
        assert_eq!(negotiate(&accept("")), Some(Coding::Identity));
        assert_eq!(negotiate(&accept("identity, gzip;q=0.5")), Some(Coding::Identity));
    }

    #[test]
    fn only_plain_names_of_known_types() {
        assert!(is_file_name("tickertape.wasm"));
        assert!(!is_file_name("../Cargo.toml"));
        assert!(!is_file_name(".hidden.js"));
        assert!(!is_file_name("a/b.js"));
        assert_eq!(content_type("tickertape.js"), Some("text/javascript"));
        assert_eq!(content_type("tickertape.d.ts"), None);
        assert_eq!(content_type("README"), None);
    }
}
