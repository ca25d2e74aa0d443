//! REST endpoints, the server-rendered page and every bad input, against a real server.

mod support;

use app::state::page::PageData;
use app::wire::protocol::{ApiErrorBody, History, Instrument, Snapshot};
use support::*;

async fn get(url: &str, last_event_id: Option<&str>) -> (u16, String) {
    let mut req = reqwest::Client::new().get(url);
    if let Some(id) = last_event_id {
        req = req.header("Last-Event-ID", id);
    }
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

#[tokio::test]
async fn bad_inputs_get_400_with_a_json_reason() {
    let server = TestServer::start().await;
    let long = format!("/api/stream?symbols={}", "A,".repeat(1500));
    let many = format!("/api/stream?symbols={}", vec!["AAPL"; 101].join(","));
    let cases: Vec<(String, Option<&str>, &str)> = vec![
        ("/api/stream?symbols=AAPL,NOPE".into(), None, "unknown symbol \"NOPE\""),
        (many, None, "too many symbols"),
        (long, None, "too long"),
        ("/api/stream".into(), Some("not-an-id"), "Last-Event-ID"),
        ("/api/stream?last_event_id=12".into(), None, "last_event_id"),
        ("/api/snapshot?symbols=ZZZ".into(), None, "unknown symbol"),
        ("/api/history".into(), None, "symbol is required"),
        ("/api/history?symbol=NOPE".into(), None, "unknown symbol"),
        ("/api/history?symbol=AAPL&interval=2s".into(), None, "interval"),
        ("/api/history?symbol=AAPL&limit=0".into(), None, "limit"),
        ("/api/history?symbol=AAPL&limit=abc".into(), None, "limit"),
    ];
    for (path, header, needle) in cases {
        let (status, body) = get(&server.url(&path), header).await;
        assert_eq!(status, 400, "{path}: {body}");
        let body: ApiErrorBody =
            serde_json::from_str(&body).unwrap_or_else(|_| panic!("{path}: JSON body, got {body}"));
        assert!(
            body.error.contains(needle),
            "{path}: {:?} should mention {needle:?}",
            body.error
        );
        assert!(body.error.len() < 200, "short reason");
    }
    let (status, body) = get(&server.url("/api/nope"), None).await;
    assert_eq!(status, 404);
    assert!(body.contains("\"error\""));
    // A well-formed id from another run is not an error: it is answered with a resync.
    let (status, _) = get(&server.url("/api/snapshot?symbols=AAPL"), Some("ffff-1")).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn rest_endpoints_describe_the_market() {
    let mut server = TestServer::start().await;
    let last = server.step(50);

    let (status, body) = get(&server.url("/api/symbols"), None).await;
    assert_eq!(status, 200);
    let instruments: Vec<Instrument> = serde_json::from_str(&body).unwrap();
    assert_eq!(instruments.len(), server.hub.instruments().len());

    let (_, body) = get(&server.url("/api/snapshot?symbols=MSFT,AAPL"), None).await;
    let snapshot: Snapshot = serde_json::from_str(&body).unwrap();
    // The page decodes with its own reader (app::wire::json): it must read the same.
    assert_eq!(app::wire::json::from_str::<Snapshot>(&body), Ok(snapshot.clone()));
    assert_eq!(snapshot.seq, last);
    assert_eq!(snapshot.id.unwrap().to_string(), format!("7e57-{last}"));
    assert_eq!(
        snapshot.quotes.iter().map(|q| q.symbol.as_str()).collect::<Vec<_>>(),
        ["AAPL", "MSFT"]
    );

    let (status, body) = get(&server.url("/api/history?symbol=aapl&interval=1s&limit=3"), None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        app::wire::json::from_str::<History>(&body).unwrap(),
        serde_json::from_str(&body).unwrap()
    );
    let history: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(history["symbol"], "AAPL");
    assert_eq!(history["interval"], "1s");
    let candles = history["candles"].as_array().unwrap();
    assert_eq!(candles.len(), 3);
    assert_eq!(candles[2]["close"], snapshot.quotes[0].price);

    let (status, body) = get(&server.url("/healthz"), None).await;
    assert_eq!(status, 200);
    assert!(body.contains("\"ok\""));

    let (status, body) = get(&server.url("/metrics"), None).await;
    assert_eq!(status, 200);
    assert!(
        body.contains(&format!("tickertape_frames_generated_total {last}")),
        "{body}"
    );
    assert!(body.contains("tickertape_history_frames 50"), "{body}");
}

#[tokio::test]
async fn first_page_is_server_rendered_with_prices() {
    let mut server = TestServer::start().await;
    server.step(5);
    let snapshot = server.hub.snapshot(&Default::default());
    let (status, html) = get(&server.url("/"), None).await;
    assert_eq!(status, 200);
    assert!(html.contains("data-testid=\"quote-row\""), "{html}");
    for (quote, instrument) in snapshot.quotes.iter().zip(&snapshot.instruments) {
        let price = app::ui::format::price(quote.price, instrument.decimals);
        assert!(html.contains(&format!("data-symbol=\"{}\"", quote.symbol)));
        assert!(html.contains(&price), "{} at {price} is in the page", quote.symbol);
    }
    // The data hydration starts from, in the head, readable by the page's JSON reader.
    let json = html
        .split_once(r#"<script type="application/json" id="page-data">"#)
        .and_then(|(_, rest)| rest.split_once("</script>"))
        .map(|(json, _)| json)
        .expect("the page carries its data");
    let page: PageData = app::wire::json::from_str(json).unwrap();
    assert_eq!(page.snapshot, snapshot);
    assert_eq!(page.sparks.len(), snapshot.quotes.len());
}

#[tokio::test]
async fn metrics_count_connected_clients() {
    let server = TestServer::start().await;
    let mut a = open(&server.url("/api/stream"), None).await;
    next(&mut a).await;
    let (_, body) = get(&server.url("/metrics"), None).await;
    assert!(body.contains("tickertape_clients{transport=\"Sse\"} 1"), "{body}");
}

/// Pages and assets are compressed; the event stream never is, whatever the client accepts.
#[tokio::test]
async fn compression_skips_the_event_stream() {
    let server = TestServer::start().await;
    let client = reqwest::Client::new();
    let page = client
        .get(server.url("/"))
        .header("accept-encoding", "br, gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(page.headers()["content-encoding"], "br");
    let json = client
        .get(server.url("/api/symbols"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(json.headers()["content-encoding"], "gzip");
    let stream = client
        .get(server.url("/api/stream"))
        .header("accept-encoding", "br, gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    assert!(stream.headers().get("content-encoding").is_none());
}

/// The site's WASM, JS and CSS go out compressed at brotli's and gzip's best levels once
/// compressed, with the coding the client accepts; a rebuilt file is never served stale.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn site_assets_go_out_precompressed_and_never_stale() {
    use leptos::prelude::LeptosOptions;
    use std::io::Read;
    use tickertape_server::hub::HubConfig;

    let root = std::env::temp_dir().join(format!("tickertape-assets-{}", std::process::id()));
    let pkg = root.join("pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    // Compressible like real code: repetitive text with some variety.
    let original: Vec<u8> = (0..3_000u32)
        .flat_map(|i| format!("fn f{}(x) {{ return x * {}; }}\n", i % 977, i % 13).into_bytes())
        .collect();
    std::fs::write(pkg.join("tickertape.wasm"), &original).unwrap();
    let options = LeptosOptions::builder()
        .output_name("tickertape")
        .site_root(root.to_string_lossy().into_owned())
        .site_pkg_dir("pkg")
        .build();
    let config = HubConfig {
        history_frames: 10,
        live_buffer: 10,
    };
    let server = TestServer::with_options(config, std::time::Duration::from_secs(15), options).await;
    server.assets.clone().warm().await;

    let client = reqwest::Client::new();
    let url = server.url("/pkg/tickertape.wasm");
    let fetch = |encoding: Option<&'static str>| {
        let mut req = client.get(&url);
        if let Some(encoding) = encoding {
            req = req.header("accept-encoding", encoding);
        }
        async move {
            let resp = req.send().await.unwrap();
            assert_eq!(resp.status(), 200);
            let headers = resp.headers().clone();
            (headers, resp.bytes().await.unwrap().to_vec())
        }
    };

    // Brotli at quality 11, as small as with brotli's default (largest useful) window.
    let (headers, body) = fetch(Some("gzip, deflate, br, zstd")).await;
    assert_eq!(headers["content-encoding"], "br");
    assert_eq!(headers["content-type"], "application/wasm");
    assert_eq!(headers["vary"], "accept-encoding");
    assert_eq!(
        Some(&body),
        tickertape_server::http::assets::brotli_best(&original).as_ref()
    );
    let mut wide = Vec::new();
    let params = brotli::enc::BrotliEncoderParams {
        quality: 11,
        lgwin: 22,
        ..Default::default()
    };
    brotli::BrotliCompress(&mut original.as_slice(), &mut wide, &params).unwrap();
    assert!(body.len() <= wide.len() + 16, "{} vs {}", body.len(), wide.len());
    let mut decoded = Vec::new();
    brotli::BrotliDecompress(&mut body.as_slice(), &mut decoded).unwrap();
    assert_eq!(decoded, original);

    let (headers, body) = fetch(Some("gzip")).await;
    assert_eq!(headers["content-encoding"], "gzip");
    let mut decoded = Vec::new();
    flate2::read::GzDecoder::new(body.as_slice())
        .read_to_end(&mut decoded)
        .unwrap();
    assert_eq!(decoded, original);

    let (headers, body) = fetch(None).await;
    assert!(!headers.contains_key("content-encoding"));
    assert_eq!(body, original);

    // Revalidation: the same version is not sent again.
    let etag = headers["etag"].to_str().unwrap().to_owned();
    let resp = client.get(&url).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(resp.status(), 304);

    // A rebuilt file: served fresh at once (by the file handler), then compressed again.
    let rebuilt: Vec<u8> = original.iter().rev().copied().chain(*b"// rebuilt\n").collect();
    std::fs::write(pkg.join("tickertape.wasm"), &rebuilt).unwrap();
    let (headers, body) = fetch(None).await;
    assert_eq!(body, rebuilt);
    assert_ne!(headers.get("etag").map(|e| e.to_str().unwrap()), Some(etag.as_str()));
    server.assets.clone().warm().await;
    let (headers, body) = fetch(Some("br")).await;
    assert_eq!(headers["content-encoding"], "br");
    let mut decoded = Vec::new();
    brotli::BrotliDecompress(&mut body.as_slice(), &mut decoded).unwrap();
    assert_eq!(decoded, rebuilt);

    // Only plain names of the site's file types; anything else goes on to the router.
    let resp = client.get(server.url("/pkg/..%2FCargo.toml")).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    let _ = std::fs::remove_dir_all(&root);
}
