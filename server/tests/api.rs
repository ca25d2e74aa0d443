//! REST endpoints, the server-rendered page and every bad input, against a real server.

mod support;

use app::state::page::PageData;
use app::wire::protocol::{ApiErrorBody, History, Instrument, Snapshot};
use std::time::Duration;
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
    let universe: Vec<String> = tickertape_server::feed::market::default_universe()
        .into_iter()
        .map(|spec| spec.symbol)
        .collect();
    let too_deep = format!(
        "/api/stream?depth={}",
        universe[..=tickertape_server::hub::MAX_DEPTH_SYMBOLS].join(",")
    );
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
        (
            "/api/stream?symbols=AAPL&depth=TSLA".into(),
            None,
            "not among the stream's symbols",
        ),
        (too_deep, None, "too many depth symbols"),
        ("/api/poll?depth=NOPE".into(), None, "unknown symbol"),
        ("/api/ws?symbols=AAPL&depth=MSFT".into(), None, "not among"),
        ("/api/snapshot?depth=NOPE".into(), None, "unknown symbol"),
        ("/api/book".into(), None, "symbol is required"),
        ("/api/book?symbol=NOPE".into(), None, "unknown symbol"),
        ("/api/trades?symbol=AAPL&limit=201".into(), None, "limit"),
        ("/api/trades?symbol=AAPL&limit=0".into(), None, "limit"),
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
    // A well-formed id from another run is not an error: the stream answers it with a resync.
    let mut stream = open(&server.url("/api/stream?symbols=AAPL"), Some("ffff-1")).await;
    assert_eq!(next(&mut stream).await.event, "resync");
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
    assert!(body.contains("tickertape_alert_firings_dropped_total 0"), "{body}");
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

/// Pages, assets and large answers are compressed; the event stream and answers under
/// `COMPRESS_FROM` never are, whatever the client accepts.
#[tokio::test]
async fn compression_skips_the_event_stream_and_small_answers() {
    let server = TestServer::start().await;
    let client = reqwest::Client::new();
    let ask = async |path: &str, accepted: &str| {
        let resp = client
            .get(server.url(path))
            .header("accept-encoding", accepted)
            .send()
            .await
            .unwrap();
        let coding = resp
            .headers()
            .get("content-encoding")
            .map(|v| v.to_str().unwrap().to_owned());
        (resp, coding)
    };
    assert_eq!(ask("/", "br, gzip").await.1.as_deref(), Some("br"));
    assert_eq!(ask("/api/symbols", "gzip").await.1.as_deref(), Some("gzip"));
    let (small, coding) = ask("/healthz", "br, gzip").await;
    assert_eq!(coding, None);
    let body = small.bytes().await.unwrap();
    assert!(
        body.len() < usize::from(tickertape_server::http::COMPRESS_FROM),
        "{}",
        body.len()
    );
    let (stream, coding) = ask("/api/stream", "br, gzip").await;
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    assert_eq!(coding, None);
}

/// The site's WASM, JS and CSS go out as the copies the release build compressed beside them,
/// with the coding the client prefers; a file without a copy is compressed on the fly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn site_files_go_out_precompressed_as_the_client_prefers() {
    use leptos::prelude::LeptosOptions;
    use tickertape_server::hub::HubConfig;

    let root = std::env::temp_dir().join(format!("tickertape-site-{}", std::process::id()));
    let pkg = root.join("pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    // Distinct contents, so each answer shows which file was sent.
    let raw: Vec<u8> = (0..3_000u32)
        .flat_map(|i| format!("fn f{}(x) {{ return x * {}; }}\n", i % 977, i % 13).into_bytes())
        .collect();
    std::fs::write(pkg.join("tickertape.wasm"), &raw).unwrap();
    std::fs::write(pkg.join("tickertape.wasm.br"), b"the brotli copy").unwrap();
    std::fs::write(pkg.join("tickertape.wasm.gz"), b"the gzip copy").unwrap();
    std::fs::write(pkg.join("tickertape.css"), &raw).unwrap();
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

    // No decompression by the client: the bytes on the wire are compared.
    let client = reqwest::Client::new();
    let fetch = |path: &'static str, encoding: Option<&'static str>| {
        let mut req = client.get(server.url(path));
        if let Some(encoding) = encoding {
            req = req.header("accept-encoding", encoding);
        }
        async move {
            let resp = req.send().await.unwrap();
            assert_eq!(resp.status(), 200);
            let headers = resp.headers().clone();
            let coding = headers.get("content-encoding").map(|v| v.to_str().unwrap().to_owned());
            (headers, coding, resp.bytes().await.unwrap().to_vec())
        }
    };
    let wasm = "/pkg/tickertape.wasm";
    let (headers, coding, body) = fetch(wasm, Some("gzip, deflate, br, zstd")).await;
    assert_eq!(
        (coding.as_deref(), body.as_slice()),
        (Some("br"), &b"the brotli copy"[..])
    );
    assert_eq!(headers["content-type"], "application/wasm");
    let vary = headers.get("vary").map(|v| v.to_str().unwrap());
    assert!(vary.is_some_and(|v| v.contains("accept-encoding")), "{headers:?}");
    let (_, coding, body) = fetch(wasm, Some("gzip")).await;
    assert_eq!(
        (coding.as_deref(), body.as_slice()),
        (Some("gzip"), &b"the gzip copy"[..])
    );
    let (_, coding, body) = fetch(wasm, Some("br;q=0.5, gzip;q=0.8")).await;
    assert_eq!(
        (coding.as_deref(), body.as_slice()),
        (Some("gzip"), &b"the gzip copy"[..])
    );
    let (headers, coding, body) = fetch(wasm, None).await;
    assert_eq!((coding, body), (None, raw.clone()));

    // Revalidation: an unchanged file is not sent again.
    let modified = headers["last-modified"].to_str().unwrap().to_owned();
    let resp = client
        .get(server.url(wasm))
        .header("if-modified-since", &modified)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 304);

    // No copy (a debug build): compressed on the fly by the compression layer.
    let (_, coding, body) = fetch("/pkg/tickertape.css", Some("gzip")).await;
    assert_eq!(coding.as_deref(), Some("gzip"));
    assert!(body.len() < raw.len() / 4);

    // Nothing outside the directory.
    for path in [
        "/pkg/..%2FCargo.toml",
        "/pkg/../Cargo.toml",
        "/pkg/nope.wasm",
        "/no-such-page",
    ] {
        let resp = client.get(server.url(path)).send().await.unwrap();
        assert_eq!(resp.status(), 404, "{path}");
        assert!(
            resp.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{path}: the app's 404 page"
        );
    }
    let _ = std::fs::remove_dir_all(&root);
}

/// A market that stops moving turns `/healthz` to 503 once its newest frame is older than the
/// node allows (five tick periods in the binary; here 300 ms).
#[tokio::test]
async fn health_degrades_when_the_newest_frame_gets_old() {
    use leptos::prelude::LeptosOptions;
    use std::sync::Arc;
    use tickertape_server::feed::generator::next_trades;
    use tickertape_server::feed::market::{Market, default_universe};
    use tickertape_server::http::{AppState, router};
    use tickertape_server::hub::{Hub, HubConfig};
    use tickertape_server::metrics::Metrics;

    let mut market = Market::new(default_universe(), 5, 10.0);
    let config = HubConfig {
        history_frames: 10,
        live_buffer: 16,
    };
    let hub = Arc::new(Hub::for_market(1, &market, config, Arc::new(Metrics::default())));
    let shutdown = tokio_util::sync::CancellationToken::new();
    let options = LeptosOptions::builder().output_name("tickertape").build();
    let mut state = AppState::new(options, hub.clone(), shutdown.clone(), Duration::from_secs(15));
    let limit = Duration::from_millis(300);
    state.stale_after = Some(limit);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/healthz", listener.local_addr().unwrap());
    tokio::spawn(tickertape_server::net::serve(
        listener,
        router(state),
        None,
        Default::default(),
        shutdown.clone(),
    ));

    hub.publish(chrono::Utc::now().timestamp_millis(), next_trades(&mut market));
    let published = std::time::Instant::now();
    let (status, body) = get(&url, None).await;
    assert_eq!(status, 200, "{body}");
    let deadline = published + PATIENCE;
    let degraded = loop {
        let (status, body) = get(&url, None).await;
        if status == 503 {
            break body;
        }
        assert!(std::time::Instant::now() < deadline, "never degraded: {body}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    assert!(published.elapsed() >= limit);
    let body: serde_json::Value = serde_json::from_str(&degraded).unwrap();
    assert_eq!(
        (body["status"].as_str(), body["stale"].as_bool()),
        (Some("degraded"), Some(true))
    );
    // A new frame makes it healthy again.
    hub.publish(chrono::Utc::now().timestamp_millis(), next_trades(&mut market));
    assert_eq!(get(&url, None).await.0, 200);
    shutdown.cancel();
}

/// A client's book of one symbol, kept from a transport's events (as the page reads them).
fn keep_book(book: &mut Option<app::wire::book::Book>, event: &serde_json::Value, (decimals, size_decimals): (u8, u8)) {
    use app::wire::book::{Book, BookUpdate};
    let kind = event["type"].as_str().unwrap();
    let books: Vec<BookUpdate> = serde_json::from_value(event["data"]["books"].clone()).unwrap_or_default();
    for update in books {
        match kind {
            "snapshot" | "resync" => *book = Some(Book::from_update(&update)),
            _ => {
                let b = book.as_mut().expect("a snapshot first");
                b.apply(&update);
                assert_eq!(b.checksum(decimals, size_decimals), update.checksum);
            }
        }
    }
}

#[tokio::test]
async fn depth_on_every_transport_carries_the_book_rest_serves() {
    use app::wire::book::{Book, BookAt, Trades};
    let mut server = TestServer::start().await;
    server.step(20);
    let btc = server
        .hub
        .instruments()
        .iter()
        .find(|i| i.symbol == "BTC-USD")
        .map(|i| (i.decimals, i.size_decimals))
        .unwrap();
    let query = "symbols=AAPL,BTC-USD&depth=btc-usd";
    let mut sse = open(&server.url(&format!("/api/stream?{query}")), None).await;
    let mut ws = ws_open(&server.url(&format!("/api/ws?{query}"))).await;
    let (first_poll, after) = poll(&server.base, query).await;
    let (mut by_sse, mut by_ws, mut by_poll) = (None, None, None);
    keep_book(&mut by_sse, &as_json(&next(&mut sse).await), btc);
    keep_book(&mut by_ws, &ws_next(&mut ws).await.unwrap(), btc);
    first_poll.iter().for_each(|e| keep_book(&mut by_poll, e, btc));

    let last = server.step(40);
    until_seq(&mut sse, last)
        .await
        .iter()
        .for_each(|e| keep_book(&mut by_sse, &as_json(e), btc));
    ws_until_seq(&mut ws, last)
        .await
        .iter()
        .for_each(|e| keep_book(&mut by_ws, e, btc));
    poll_until_seq(&server.base, "AAPL,BTC-USD&depth=btc-usd", after, last)
        .await
        .iter()
        .for_each(|e| keep_book(&mut by_poll, e, btc));

    let (status, body) = get(&server.url("/api/book?symbol=btc-usd"), None).await;
    assert_eq!(status, 200, "{body}");
    let rest: BookAt = serde_json::from_str(&body).unwrap();
    assert_eq!(
        app::wire::json::from_str::<BookAt>(&body),
        Ok(rest.clone()),
        "the page reads it"
    );
    assert_eq!((rest.seq, rest.bids.len(), rest.asks.len()), (last, 20, 20));
    let book = Book {
        bids: rest.bids,
        asks: rest.asks,
    };
    assert_eq!(book.checksum(btc.0, btc.1), rest.checksum);
    for (name, kept) in [("sse", by_sse), ("ws", by_ws), ("poll", by_poll)] {
        assert_eq!(kept.as_ref(), Some(&book), "{name}");
    }

    let (status, body) = get(&server.url("/api/trades?symbol=BTC-USD&limit=5"), None).await;
    assert_eq!(status, 200, "{body}");
    let trades: Trades = serde_json::from_str(&body).unwrap();
    assert_eq!((trades.seq, trades.trades.len()), (last, 5));
    assert!(trades.trades.windows(2).all(|w| w[0].ts >= w[1].ts), "newest first");
    // The book stands at the quote.
    let quote = server.hub.snapshot(&server.hub.select(Some("BTC-USD")).unwrap()).quotes[0].clone();
    assert_eq!((quote.bid, quote.ask), (book.bids[0].0, book.asks[0].0));

    // Streams without depth carry no books.
    let mut plain = open(&server.url("/api/stream?symbols=BTC-USD"), None).await;
    let snapshot = as_json(&next(&mut plain).await);
    assert_eq!(snapshot["data"]["books"], serde_json::json!([]));
    let last = server.step(10);
    assert!(
        until_seq(&mut plain, last)
            .await
            .iter()
            .all(|e| !e.data.contains("\"books\""))
    );
    let (_, metrics) = get(&server.url("/metrics"), None).await;
    assert!(
        metrics.contains("tickertape_book_checksum_mismatches_total 0"),
        "{metrics}"
    );
}

/// `GET /api/openapi.json` is an OpenAPI 3.1 document of every endpoint the router serves: each
/// one a user of the API is told about (README) is in it with its statuses, and each operation
/// in it, asked for for real, answers one of the statuses it documents. Nothing else is served
/// under `/api`.
#[tokio::test]
async fn the_openapi_document_lists_every_endpoint_with_the_statuses_it_answers() {
    let store = tickertape_server::store::Store::connect(
        &tickertape_server::store::parse_database_url(&sqlite_url("openapi")).unwrap(),
    )
    .await
    .unwrap();
    let accounts = tickertape_server::accounts::Accounts::new(store, Duration::from_secs(60), false);
    let server = TestServer::with_accounts(accounts).await;
    let (status, text) = get(&server.url("/api/openapi.json"), None).await;
    assert_eq!(status, 200);
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    let every = [
        ("get", "/api/symbols"),
        ("get", "/api/snapshot"),
        ("get", "/api/history"),
        ("get", "/api/book"),
        ("get", "/api/trades"),
        ("get", "/api/wire"),
        ("get", "/api/stream"),
        ("get", "/api/ws"),
        ("get", "/api/poll"),
        ("post", "/api/signup"),
        ("post", "/api/login"),
        ("post", "/api/logout"),
        ("get", "/api/me"),
        ("get", "/api/watchlists"),
        ("put", "/api/watchlists/{name}"),
        ("delete", "/api/watchlists/{name}"),
        ("put", "/api/view"),
        ("post", "/api/alerts"),
        ("get", "/api/alerts"),
        ("patch", "/api/alerts/{id}"),
        ("delete", "/api/alerts/{id}"),
        ("get", "/api/notifications"),
        ("post", "/api/notifications/read"),
        ("get", "/api/openapi.json"),
        ("get", "/healthz"),
        ("get", "/metrics"),
    ];
    let paths = doc["paths"].as_object().unwrap();
    let operations: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
    assert_eq!(operations, every.len(), "{:?}", paths.keys().collect::<Vec<_>>());
    let client = reqwest::Client::new();
    for (method, path) in every {
        let op = &doc["paths"][path][method];
        let statuses: Vec<u16> = op["responses"]
            .as_object()
            .unwrap_or_else(|| panic!("{method} {path} is not in the document"))
            .keys()
            .map(|k| k.parse().unwrap())
            .collect();
        assert!(
            statuses.iter().any(|s| (200..300).contains(s) || *s == 101),
            "{method} {path}: {statuses:?}"
        );
        // Asked for for real (the query a first-time caller would write).
        let url = server.url(&path.replace("{name}", "Tech").replace("{id}", "1"))
            + if path.ends_with("history") || path.ends_with("book") || path.ends_with("trades") {
                "?symbol=AAPL"
            } else if path.ends_with("poll") {
                "?timeout_ms=0"
            } else {
                ""
            };
        let req = match method {
            "get" => client.get(&url),
            "post" => client.post(&url),
            "put" => client.put(&url),
            "patch" => client.patch(&url),
            _ => client.delete(&url),
        };
        let resp = req
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        let got = resp.status().as_u16();
        assert!(
            statuses.contains(&got),
            "{method} {path} answered {got}, documented {statuses:?}"
        );
    }
    // The refusals the account endpoints share are documented on each.
    for (method, path) in [
        ("post", "/api/signup"),
        ("put", "/api/watchlists/{name}"),
        ("put", "/api/view"),
    ] {
        for code in ["401", "403", "413", "503"] {
            let documented = doc["paths"][path][method]["responses"].get(code).is_some();
            assert!(
                documented || (path == "/api/signup" && code == "401"),
                "{method} {path}: {code}"
            );
        }
    }
    // Nothing else under /api.
    assert_eq!(get(&server.url("/api/nothing-here"), None).await.0, 404);
    // Each body the document names is described in it.
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for name in [
        "Snapshot",
        "History",
        "Account",
        "Watchlist",
        "SavedView",
        "ApiErrorBody",
        "Credentials",
    ] {
        assert!(
            schemas.contains_key(name),
            "{name} in {:?}",
            schemas.keys().collect::<Vec<_>>()
        );
    }
}
