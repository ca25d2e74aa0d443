//! What every response says about how a browser may use it, defined once: the headers below go
//! on every answer (the router's, the direct SSE streams', the connection layer's refusals), and
//! the page's Content-Security-Policy allows inline script only by the nonce Leptos puts on each
//! of its scripts. Also which other sites may open the streams: a WebSocket upgrade, a stream or
//! a poll that a browser sends from another origin is refused unless `ALLOWED_ORIGINS` lists it,
//! so no site can spend its visitors' browsers on this server.

use axum::http::{HeaderMap, HeaderName, HeaderValue, header};

/// The site's policy, from the configuration (`FRAME_ANCESTORS`, `ALLOWED_ORIGINS`).
#[derive(Clone, Debug)]
pub struct Policy {
    /// The CSP `frame-ancestors` sources: who may frame the page (`'none'`: nobody).
    frame_ancestors: String,
    /// Origins besides the page's own that may open streams (`scheme://host[:port]`).
    allowed_origins: Vec<String>,
    /// The Content-Security-Policy of everything but the page (nothing may load from it, and
    /// nothing may frame it), made once: it goes on every response.
    resource_csp: HeaderValue,
    /// The headers every response carries, as lines of a response head written by hand.
    head_lines: String,
    /// The port of cargo-leptos's live-reload socket, which the page's script may connect to
    /// (only in a debug build that `cargo leptos watch` runs: [`live_reload_port`]).
    live_reload: Option<u32>,
}

/// The port of cargo-leptos's live-reload socket if this process is a debug build run by
/// `cargo leptos watch` (which sets `LEPTOS_WATCH`; Leptos's `AutoReload` then puts a script on
/// the page that connects to it), else `None`: a release build never opens its policy to it.
pub fn live_reload_port(options: &leptos::prelude::LeptosOptions) -> Option<u32> {
    reload_port(
        cfg!(debug_assertions),
        std::env::var_os("LEPTOS_WATCH").is_some(),
        options,
    )
}

/// [`live_reload_port`] for a build that is `debug` or not, run by `watch` or not.
fn reload_port(debug: bool, watched: bool, options: &leptos::prelude::LeptosOptions) -> Option<u32> {
    (debug && watched).then(|| options.reload_external_port.unwrap_or(options.reload_port))
}

impl Default for Policy {
    fn default() -> Self {
        Policy::new("'none'", Vec::new())
    }
}

/// Headers that every response carries.
const NOSNIFF: (HeaderName, &str) = (header::X_CONTENT_TYPE_OPTIONS, "nosniff");
const REFERRER: (HeaderName, &str) = (header::REFERRER_POLICY, "no-referrer");

impl Policy {
    pub fn new(frame_ancestors: &str, allowed_origins: Vec<String>) -> Self {
        let csp = format!("default-src 'none'; frame-ancestors {frame_ancestors}");
        // The configuration admits only visible ASCII; should anything else come, nobody frames.
        let resource_csp = HeaderValue::from_str(&csp)
            .unwrap_or(HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"));
        let head_lines = format!(
            "{}: {}\r\n{}: {}\r\n{}: {}\r\n",
            NOSNIFF.0,
            NOSNIFF.1,
            REFERRER.0,
            REFERRER.1,
            header::CONTENT_SECURITY_POLICY,
            resource_csp.to_str().unwrap_or_default()
        );
        Policy {
            frame_ancestors: frame_ancestors.to_string(),
            allowed_origins,
            resource_csp,
            head_lines,
            live_reload: None,
        }
    }

    /// The same policy, letting the page connect to cargo-leptos's live-reload socket on `port`
    /// (on whatever host the page was loaded from, as the reload script does).
    pub fn with_live_reload(mut self, port: Option<u32>) -> Self {
        self.live_reload = port;
        self
    }

    /// The page's Content-Security-Policy: scripts from the site and inline ones carrying
    /// `nonce` (Leptos's hydration script and the theme script), WebAssembly compiled from the
    /// site, connections to the site only (its stream, WebSocket and API), and images and sound
    /// from `data:` URLs (the alerts' chime is made in the page).
    pub fn page_csp(&self, nonce: &str) -> String {
        let reload = self
            .live_reload
            .map(|port| format!(" ws://*:{port} wss://*:{port}"))
            .unwrap_or_default();
        format!(
            "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
             style-src 'self' 'unsafe-inline'; img-src 'self' data:; media-src 'self' data:; \
             connect-src 'self'{reload}; \
             object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors {}",
            self.frame_ancestors
        )
    }

    /// Adds the headers every response carries to `headers`, keeping any it already has (the
    /// page's own CSP, with its nonce).
    pub fn apply(&self, headers: &mut HeaderMap) {
        for (name, value) in [NOSNIFF, REFERRER] {
            headers.entry(name).or_insert(HeaderValue::from_static(value));
        }
        headers
            .entry(header::CONTENT_SECURITY_POLICY)
            .or_insert_with(|| self.resource_csp.clone());
    }

    /// The same headers as lines of a response head written by hand (`name: value\r\n` each).
    pub fn head_lines(&self) -> &str {
        &self.head_lines
    }

    /// Whether a request with these headers may open a stream: it carries no `Origin` (not a
    /// browser's cross-site request), or its origin is the server's own (the `Host` it was sent
    /// to), or one `ALLOWED_ORIGINS` lists. `Err` holds the refused origin.
    pub fn check_origin<'a>(&self, headers: &'a HeaderMap) -> Result<(), &'a str> {
        let Some(origin) = headers.get(header::ORIGIN) else {
            return Ok(());
        };
        let origin = origin.to_str().map_err(|_| "<not ASCII>")?;
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
        let own = origin
            .split_once("://")
            .is_some_and(|(_, authority)| Some(authority) == host);
        if own || self.allowed_origins.iter().any(|o| o.eq_ignore_ascii_case(origin)) {
            Ok(())
        } else {
            Err(origin)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn origins_are_the_servers_own_or_listed() {
        let policy = Policy::new("'none'", vec!["https://dash.example.com".into()]);
        let host = ("host", "127.0.0.1:3000");
        assert_eq!(
            policy.check_origin(&headers(&[host])),
            Ok(()),
            "no Origin: not a cross-site browser request"
        );
        assert_eq!(
            policy.check_origin(&headers(&[host, ("origin", "http://127.0.0.1:3000")])),
            Ok(())
        );
        assert_eq!(
            policy.check_origin(&headers(&[host, ("origin", "https://DASH.example.com")])),
            Ok(())
        );
        for foreign in [
            "https://evil.example",
            "http://127.0.0.1:3001",
            "null",
            "http://127.0.0.1:3000.evil",
        ] {
            assert_eq!(
                policy.check_origin(&headers(&[host, ("origin", foreign)])),
                Err(foreign)
            );
        }
        assert!(
            Policy::default()
                .check_origin(&headers(&[("origin", "https://a.example")]))
                .is_err(),
            "no Host"
        );
    }

    #[test]
    fn only_a_debug_build_run_by_watch_lets_the_page_reach_the_live_reload_socket() {
        let options = leptos::prelude::LeptosOptions::builder()
            .output_name("t")
            .reload_port(3001)
            .build();
        assert_eq!(reload_port(true, true, &options), Some(3001));
        for (debug, watched) in [(false, true), (true, false), (false, false)] {
            assert_eq!(
                reload_port(debug, watched, &options),
                None,
                "debug {debug}, watched {watched}"
            );
        }
        let release = Policy::default().page_csp("n");
        assert!(release.contains("connect-src 'self'; "), "{release}");
        assert!(!release.contains("ws:"), "{release}");
        let watched = Policy::default().with_live_reload(Some(3001)).page_csp("n");
        assert!(
            watched.contains("connect-src 'self' ws://*:3001 wss://*:3001; "),
            "{watched}"
        );
    }

    #[test]
    fn every_response_gets_the_headers_and_keeps_its_own_csp() {
        let policy = Policy::new("https://portal.example", vec![]);
        let mut plain = HeaderMap::new();
        policy.apply(&mut plain);
        assert_eq!(plain["x-content-type-options"], "nosniff");
        assert_eq!(plain["referrer-policy"], "no-referrer");
        assert_eq!(
            plain["content-security-policy"],
            "default-src 'none'; frame-ancestors https://portal.example"
        );
        let mut page = headers(&[("content-security-policy", "default-src 'self'")]);
        policy.apply(&mut page);
        assert_eq!(page["content-security-policy"], "default-src 'self'");
        assert!(
            policy
                .page_csp("abc")
                .contains("script-src 'self' 'nonce-abc' 'wasm-unsafe-eval'")
        );
        assert!(
            policy.head_lines().contains(
                "\r\ncontent-security-policy: default-src 'none'; frame-ancestors https://portal.example\r\n"
            )
        );
    }
}
