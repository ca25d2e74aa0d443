//! What responses tell browsers, and who may open streams: the security headers on every kind of
//! answer, the page's nonce-based Content-Security-Policy, and origins refused with 403.

mod support;

use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The head of the answer to `request`, sent on a fresh connection, as lowercase text.
async fn raw_head(server: &TestServer, request: &str) -> String {
    let mut tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(PATIENCE, tcp.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "closed before the head: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&got).to_ascii_lowercase()
}

fn assert_security_headers(what: &str, head: &str) {
    for line in [
        "\r\nx-content-type-options: nosniff\r\n",
        "\r\nreferrer-policy: no-referrer\r\n",
        "\r\ncontent-security-policy: ",
        "frame-ancestors 'none'",
    ] {
        assert!(head.contains(line), "{what} lacks {line:?}:\n{head}");
    }
}

#[tokio::test]
async fn every_kind_of_answer_carries_the_security_headers() {
    let mut server = TestServer::start().await;
    server.step(2);
    for (what, request) in [
        ("a page", "GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
        ("the API", "GET /api/symbols HTTP/1.1\r\nHost: x\r\n\r\n"),
        ("an API error", "GET /api/nope HTTP/1.1\r\nHost: x\r\n\r\n"),
        ("a direct stream", "GET /api/stream HTTP/1.1\r\nHost: x\r\n\r\n"),
        (
            "a stream through hyper",
            "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /api/stream HTTP/1.1\r\nHost: x\r\n\r\n",
        ),
        ("a long poll", "GET /api/poll?timeout_ms=0 HTTP/1.1\r\nHost: x\r\n\r\n"),
        ("health", "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"),
    ] {
        assert_security_headers(what, &raw_head(&server, request).await);
    }
}

#[tokio::test]
async fn the_page_allows_only_the_inline_scripts_that_carry_its_nonce() {
    let server = TestServer::start().await;
    let mut nonces = std::collections::HashSet::new();
    for _ in 0..2 {
        let resp = reqwest::get(server.url("/")).await.unwrap();
        let csp = resp.headers()["content-security-policy"].to_str().unwrap().to_string();
        let html = resp.text().await.unwrap();
        let nonce = csp
            .split("'nonce-")
            .nth(1)
            .and_then(|rest| rest.split('\'').next())
            .expect("a nonce in the CSP")
            .to_string();
        assert!(
            csp.contains("script-src 'self' 'nonce-") && csp.contains("'wasm-unsafe-eval'"),
            "{csp}"
        );
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        // Every executable inline script carries it (the page data is JSON, never executed).
        let scripts: Vec<&str> = html
            .split("<script")
            .skip(1)
            .map(|s| s.split('>').next().unwrap())
            .collect();
        assert!(scripts.len() >= 2, "{html}");
        for attrs in scripts {
            if !attrs.contains("application/json") && !attrs.contains(" src=") {
                assert!(
                    attrs.contains(&format!("nonce=\"{nonce}\"")),
                    "<script{attrs}> without the nonce"
                );
            }
        }
        nonces.insert(nonce);
    }
    assert_eq!(nonces.len(), 2, "a new nonce for every page");
}

#[tokio::test]
async fn streams_from_other_origins_are_refused_with_403() {
    let server = TestServer::start().await;
    let host = server.addr.to_string();
    for path in ["/api/stream", "/api/poll?timeout_ms=0", "/api/ws"] {
        let client = reqwest::Client::new();
        let mut request = client.get(server.url(path)).header("origin", "https://evil.example");
        if path == "/api/ws" {
            request = request
                .header("connection", "upgrade")
                .header("upgrade", "websocket")
                .header("sec-websocket-version", "13")
                .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==");
        }
        let resp = request.send().await.unwrap();
        assert_eq!(resp.status(), 403, "{path}");
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(
            body["error"], "origin https://evil.example may not open streams here (ALLOWED_ORIGINS)",
            "{path}"
        );
        // The page's own origin is welcome.
        let own = client
            .get(server.url(if path == "/api/ws" {
                "/api/poll?timeout_ms=0"
            } else {
                path
            }))
            .header("origin", format!("http://{host}"))
            .send()
            .await
            .unwrap();
        assert_eq!(own.status(), 200, "{path} from the page's own origin");
    }
}
