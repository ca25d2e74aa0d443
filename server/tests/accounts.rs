//! Accounts over real HTTP, on both stores (an SQLite file, and a private PostgreSQL server):
//! sign-up, sign-in and sign-out, the cookie's flags, one 401 for an unknown user and a wrong
//! password, the throttle, forged requests refused, secrets never stored in clear; and with the
//! binary, a `kill -9` and a restart keep every account and session, and the log holds no secret.

mod support;

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, COOKIE, ORIGIN, RETRY_AFTER, SET_COOKIE};
use std::time::Duration;
use support::{Postgres, TestServer, sqlite_url, tickertape, url_after};
use tickertape_server::accounts::Accounts;
use tickertape_server::store::{Store, parse_database_url};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

const PASSWORD: &str = "correct horse battery";

async fn accounts(url: &str) -> Accounts {
    let store = Store::connect(&parse_database_url(url).unwrap()).await.unwrap();
    Accounts::new(store, Duration::from_secs(3600), false)
}

/// A POST of `body` as JSON, from the page's own origin unless `origin` says otherwise.
async fn post(base: &str, path: &str, body: &str, cookie: Option<&str>) -> reqwest::Response {
    let mut req = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .header(CONTENT_TYPE, "application/json")
        .body(body.to_string());
    if let Some(c) = cookie {
        req = req.header(COOKIE, c);
    }
    req.send().await.unwrap()
}

fn credentials(username: &str, password: &str) -> String {
    serde_json::json!({ "username": username, "password": password }).to_string()
}

/// The `name=value` of the response's session cookie, and the whole header.
fn session_cookie(resp: &reqwest::Response) -> (String, String) {
    let header = resp.headers()[SET_COOKIE].to_str().unwrap().to_string();
    let pair = header.split(';').next().unwrap().to_string();
    (pair, header)
}

async fn me(base: &str, cookie: Option<&str>) -> (StatusCode, serde_json::Value) {
    let mut req = reqwest::Client::new().get(format!("{base}/api/me"));
    if let Some(c) = cookie {
        req = req.header(COOKIE, c);
    }
    let resp = req.send().await.unwrap();
    (resp.status(), resp.json().await.unwrap())
}

async fn error_of(resp: reqwest::Response) -> (StatusCode, String) {
    let status = resp.status();
    let body: serde_json::Value = resp.json().await.unwrap();
    (status, body["error"].as_str().unwrap().to_string())
}

/// Everything the account endpoints promise, against one server.
async fn exercise(base: &str) {
    // Sign up: 201, the user, and the session cookie with its flags.
    let resp = post(base, "/api/signup", &credentials("Alice", PASSWORD), None).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let (alice, header) = session_cookie(&resp);
    assert!(
        alice.starts_with("tt_session=") && alice.len() >= "tt_session=".len() + 32,
        "{header}"
    );
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(header.contains(flag), "{header}");
    }
    assert!(!header.contains("Secure"), "not behind TLS by default: {header}");
    assert_eq!(resp.json::<serde_json::Value>().await.unwrap()["username"], "alice");
    assert_eq!(
        me(base, Some(&alice)).await,
        (
            StatusCode::OK,
            serde_json::json!({"username": "alice", "watchlists": [], "view": null, "unread": 0})
        )
    );

    // The name is taken whatever its case; bad input says what is wrong.
    let taken = post(base, "/api/signup", &credentials("ALICE", PASSWORD), None).await;
    assert_eq!(taken.status(), StatusCode::CONFLICT);
    let (status, why) = error_of(post(base, "/api/signup", &credentials("a b", PASSWORD), None).await).await;
    assert_eq!(
        (status, why.contains("username")),
        (StatusCode::BAD_REQUEST, true),
        "{why}"
    );
    let (status, why) = error_of(post(base, "/api/signup", &credentials("bob", "short"), None).await).await;
    assert_eq!(
        (status, why.contains("password")),
        (StatusCode::BAD_REQUEST, true),
        "{why}"
    );
    let (status, why) = error_of(post(base, "/api/signup", "{not json", None).await).await;
    assert_eq!((status, why.contains("JSON")), (StatusCode::BAD_REQUEST, true), "{why}");
    let huge = credentials("bob", &"x".repeat(17 * 1024));
    let (status, why) = error_of(post(base, "/api/signup", &huge, None).await).await;
    assert_eq!(
        (status, why.contains("16384")),
        (StatusCode::PAYLOAD_TOO_LARGE, true),
        "{why}"
    );

    // One 401, the same body, for a wrong password and an unknown user.
    let wrong = error_of(post(base, "/api/login", &credentials("alice", "wrong password"), None).await).await;
    let unknown = error_of(post(base, "/api/login", &credentials("nobody", PASSWORD), None).await).await;
    assert_eq!(wrong.0, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong, unknown);

    // Signing in opens a new session; signing out ends it (the other stays).
    let resp = post(base, "/api/login", &credentials("ALICE", PASSWORD), None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let (second, _) = session_cookie(&resp);
    assert_ne!(second, alice, "a new id at every sign-in");
    let out = post(base, "/api/logout", "", Some(&second)).await;
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    assert!(out.headers()[SET_COOKIE].to_str().unwrap().contains("Max-Age=0"));
    assert_eq!(me(base, Some(&second)).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(me(base, Some(&alice)).await.0, StatusCode::OK);
    assert_eq!(me(base, None).await.0, StatusCode::UNAUTHORIZED);

    // Forged requests: another site's page, or a body a form could send.
    let client = reqwest::Client::new();
    let forged = client
        .post(format!("{base}/api/login"))
        .header(CONTENT_TYPE, "application/json")
        .header(ORIGIN, "https://evil.example")
        .body(credentials("alice", PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    for content_type in ["text/plain", "application/x-www-form-urlencoded"] {
        let form = client
            .post(format!("{base}/api/logout"))
            .header(CONTENT_TYPE, content_type)
            .header(COOKIE, &alice)
            .send()
            .await
            .unwrap();
        assert_eq!(form.status(), StatusCode::FORBIDDEN, "{content_type}");
    }
    assert_eq!(
        me(base, Some(&alice)).await.0,
        StatusCode::OK,
        "the forged sign-out did nothing"
    );

    watchlists_and_views(base, &alice).await;

    // Five failures for one name: the sixth attempt waits, even with the right password.
    post(base, "/api/signup", &credentials("carol", PASSWORD), None).await;
    for _ in 0..5 {
        let resp = post(base, "/api/login", &credentials("carol", "not her password"), None).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    }
    let held = post(base, "/api/login", &credentials("carol", PASSWORD), None).await;
    assert_eq!(held.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = held.headers()[RETRY_AFTER].to_str().unwrap().parse().unwrap();
    assert!((1..=300).contains(&retry), "{retry}");
    // Twenty failures from one address (7 so far), over any names: that address waits.
    for k in 0..13 {
        let resp = post(
            base,
            "/api/login",
            &credentials(&format!("guess{k}"), "whatever1"),
            None,
        )
        .await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "attempt {k}");
    }
    let held = post(base, "/api/login", &credentials("alice", PASSWORD), None).await;
    assert_eq!(held.status(), StatusCode::TOO_MANY_REQUESTS);
}

/// A JSON request with a method and an optional body, signed in with `cookie`.
async fn send(
    base: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
    cookie: Option<&str>,
) -> reqwest::Response {
    let mut req = reqwest::Client::new()
        .request(method, format!("{base}{path}"))
        .header(CONTENT_TYPE, "application/json");
    if let Some(body) = body {
        req = req.body(body.to_string());
    }
    if let Some(c) = cookie {
        req = req.header(COOKIE, c);
    }
    req.send().await.unwrap()
}

/// Watchlists and the view belong to their user alone; bad input says what is wrong.
async fn watchlists_and_views(base: &str, alice: &str) {
    use reqwest::Method;
    use serde_json::json;
    let put = |name: &str, symbols: serde_json::Value, cookie: Option<&str>| {
        let path = format!("/api/watchlists/{name}");
        let cookie = cookie.map(str::to_string);
        async move {
            send(
                base,
                Method::PUT,
                &path,
                Some(json!({ "symbols": symbols })),
                cookie.as_deref(),
            )
            .await
        }
    };
    let resp = put("Tech", json!(["aapl", "MSFT", "NVDA"]), Some(alice)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.json::<serde_json::Value>().await.unwrap(),
        json!({"name": "Tech", "symbols": ["AAPL", "MSFT", "NVDA"]})
    );
    for (symbols, reason) in [
        (json!(["AAPL", "NOPE"]), "unknown symbol"),
        (json!(["AAPL", "aapl"]), "twice"),
        (json!(vec!["AAPL"; 101]), "at most 100"),
    ] {
        let (status, why) = error_of(put("Bad", symbols, Some(alice)).await).await;
        assert_eq!((status, why.contains(reason)), (StatusCode::BAD_REQUEST, true), "{why}");
    }
    assert_eq!(
        put("Tech", json!(["AAPL"]), None).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // At most 20 lists; replacing one is not a new one.
    for k in 2..=20 {
        let resp = put(&format!("List{k}"), json!(["JNJ"]), Some(alice)).await;
        assert_eq!(resp.status(), StatusCode::OK);
    }
    let (status, why) = error_of(put("List21", json!(["JNJ"]), Some(alice)).await).await;
    assert_eq!(
        (status, why.contains("at most 20")),
        (StatusCode::BAD_REQUEST, true),
        "{why}"
    );
    assert_eq!(
        put("Tech", json!(["TSLA", "AAPL"]), Some(alice)).await.status(),
        StatusCode::OK
    );
    let lists: serde_json::Value = send(base, Method::GET, "/api/watchlists", None, Some(alice))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(lists.as_array().unwrap().len(), 20);
    assert_eq!(
        lists[0],
        json!({"name": "Tech", "symbols": ["TSLA", "AAPL"]}),
        "in the user's order, replaced in place"
    );
    let deleted = send(base, Method::DELETE, "/api/watchlists/List20", None, Some(alice)).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);

    // The view: saved whole, checked field by field.
    let view =
        json!({"symbol": "MSFT", "interval": "5m", "mode": "line", "depth": false, "theme": "dark", "transport": "ws"});
    let resp = send(base, Method::PUT, "/api/view", Some(view.clone()), Some(alice)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    for (field, value) in [
        ("interval", json!("2m")),
        ("symbol", json!("NOPE")),
        ("theme", json!("pink")),
        ("extra", json!(1)),
    ] {
        let mut bad = view.clone();
        bad[field] = value;
        let (status, why) = error_of(send(base, Method::PUT, "/api/view", Some(bad), Some(alice)).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{field}: {why}");
    }
    let (status, body) = me(base, Some(alice)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["view"], view);
    assert_eq!(body["watchlists"].as_array().unwrap().len(), 19);

    // Another user sees none of it and can change none of it.
    let resp = post(base, "/api/signup", &credentials("mallory", PASSWORD), None).await;
    let (mallory, _) = session_cookie(&resp);
    let (_, theirs) = me(base, Some(&mallory)).await;
    assert_eq!(
        (theirs["watchlists"].clone(), theirs["view"].clone()),
        (json!([]), json!(null))
    );
    let gone = send(base, Method::DELETE, "/api/watchlists/Tech", None, Some(&mallory)).await;
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    // A forged change is refused before it is read.
    let forged = reqwest::Client::new()
        .put(format!("{base}/api/watchlists/Tech"))
        .header(CONTENT_TYPE, "text/plain")
        .header(COOKIE, alice)
        .body(json!({"symbols": []}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let (_, mine) = me(base, Some(alice)).await;
    assert_eq!(
        mine["watchlists"][0],
        json!({"name": "Tech", "symbols": ["TSLA", "AAPL"]})
    );
}

#[tokio::test]
async fn accounts_on_sqlite() {
    let url = sqlite_url("accounts");
    let server = TestServer::with_accounts(accounts(&url).await).await;
    exercise(&server.base).await;
    // Nothing secret in the file: the password only as an Argon2id hash, no session id.
    let path = url.trim_start_matches("sqlite://");
    let mut bytes = std::fs::read(path).unwrap();
    if let Ok(wal) = std::fs::read(format!("{path}-wal")) {
        bytes.extend(wal);
    }
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains("$argon2id$v=19$m=19456,t=2,p=1$"));
    assert!(!text.contains(PASSWORD));

    // Expired sessions are refused, then purged; live ones stay.
    let store = accounts(&url).await.store().clone();
    let (id, _) = store.user_by_name("alice").await.unwrap().unwrap();
    store.create_session("old", id, 1_000, 2_000).await.unwrap();
    store.create_session("new", id, 1_000, 4_000).await.unwrap();
    assert_eq!(store.session("old", 3_000).await.unwrap(), None, "expired");
    assert!(store.session("new", 3_000).await.unwrap().is_some());
    assert_eq!(store.purge_expired(3_000).await.unwrap(), 1);
    assert!(store.session("new", 3_000).await.unwrap().is_some());
}

/// A change whose request is dropped while it waits for a busy store (its client hung up) is
/// still made once the store frees up, and still reaches the user's streams: the change and its
/// event are one piece.
#[tokio::test]
async fn a_change_dropped_while_the_store_is_busy_still_reaches_the_streams() {
    let url = sqlite_url("dropped");
    let accounts = accounts(&url).await;
    let (user, _session) = accounts.signup("dropper", PASSWORD).await.unwrap();
    let universe = ["AAPL".to_string(), "MSFT".to_string()];
    let put = |symbol: &str| accounts.put_watchlist(&user, "Main", None, vec![symbol.to_string()], &universe);
    put("AAPL").await.unwrap();
    let log = accounts
        .channels()
        .log(user.id)
        .expect("the first change filed an event");
    let before = log.latest();

    // Another connection holds SQLite's write lock: the change waits on a blocking thread.
    let blocker = rusqlite::Connection::open(url.trim_start_matches("sqlite://")).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let dropped = tokio::time::timeout(Duration::from_millis(200), put("MSFT")).await;
    assert!(dropped.is_err(), "the change waits for the store");
    assert_eq!(log.latest(), before, "nothing is filed before the commit");
    blocker.execute_batch("ROLLBACK").unwrap();

    let filed = tokio::time::timeout(support::PATIENCE, async {
        while log.latest() == before {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(
        filed.is_ok(),
        "the change was committed but never reached the user's streams"
    );
    let lists = accounts.watchlists(&user).await.unwrap();
    assert_eq!(lists[0].symbols, ["MSFT"]);
}

#[tokio::test]
async fn accounts_on_postgres() {
    let pg = Postgres::start();
    let server = TestServer::with_accounts(accounts(&pg.url()).await).await;
    exercise(&server.base).await;
    // Nothing secret in the database: every stored value, as text.
    sqlx::any::install_default_drivers();
    let db = sqlx::AnyPool::connect(&pg.url()).await.unwrap();
    let mut rows: Vec<String> = Vec::new();
    for query in [
        "SELECT username || ' ' || password FROM users",
        "SELECT id_hash FROM sessions",
    ] {
        for row in sqlx::query(query).fetch_all(&db).await.unwrap() {
            rows.push(sqlx::Row::get(&row, 0));
        }
    }
    db.close().await;
    assert!(rows.len() > 3, "{rows:?}");
    assert!(
        rows.iter()
            .any(|r| r.starts_with("alice $argon2id$v=19$m=19456,t=2,p=1$"))
    );
    assert!(rows.iter().all(|r| !r.contains(PASSWORD)));
    // The database goes away: account requests are refused with 503 and a reason, and the
    // market streams on; it comes back: so do the accounts, every account and session kept.
    pg.stop();
    let (status, why) = error_of(post(&server.base, "/api/signup", &credentials("frank", PASSWORD), None).await).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{why}");
    assert!(why.contains("unavailable"), "{why}");
    let symbols = reqwest::get(format!("{}/api/snapshot", server.base)).await.unwrap();
    assert_eq!(symbols.status(), StatusCode::OK);
    pg.start_again();
    let back = tokio::time::timeout(support::PATIENCE, async {
        loop {
            let resp = post(&server.base, "/api/signup", &credentials("dave", PASSWORD), None).await;
            if resp.status() != StatusCode::SERVICE_UNAVAILABLE {
                return resp.status();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the accounts come back with the database");
    assert_eq!(back, StatusCode::CREATED);
}

/// The binary with an SQLite file: a `kill -9` and a restart keep every account, session and
/// watchlist;
/// nothing secret reaches the log.
#[tokio::test]
async fn accounts_survive_kill_9_and_their_secrets_never_reach_the_log() {
    let url = sqlite_url("kill");
    let start = || {
        let mut child = tickertape()
            .env("DATABASE_URL", &url)
            .env("RUST_LOG", "debug")
            .spawn()
            .unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        (child, lines)
    };
    let (mut child, mut lines) = start();
    let base = url_after(&mut lines, "live at ").await;
    let resp = post(&base, "/api/signup", &credentials("erin", PASSWORD), None).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let (cookie, _) = session_cookie(&resp);
    let session = cookie.trim_start_matches("tt_session=").to_string();
    let list = serde_json::json!({"symbols": ["BTC-USD", "ETH-USD"]});
    let saved = send(
        &base,
        reqwest::Method::PUT,
        "/api/watchlists/Coins",
        Some(list),
        Some(&cookie),
    )
    .await;
    assert_eq!(saved.status(), StatusCode::OK);
    child.start_kill().unwrap(); // SIGKILL
    child.wait().await.unwrap();
    let mut log = String::new();
    while let Ok(Some(line)) = lines.next_line().await {
        log.push_str(&line);
    }
    child.stderr.take().unwrap().read_to_string(&mut log).await.unwrap();

    let (mut child, mut lines) = start();
    let base = url_after(&mut lines, "live at ").await;
    let (status, body) = me(&base, Some(&cookie)).await;
    assert_eq!(status, StatusCode::OK, "the session outlived the kill");
    assert_eq!(
        body["watchlists"],
        serde_json::json!([{"name": "Coins", "symbols": ["BTC-USD", "ETH-USD"]}]),
        "the watchlist outlived the kill"
    );
    let again = post(&base, "/api/login", &credentials("erin", PASSWORD), None).await;
    assert_eq!(again.status(), StatusCode::OK, "the account outlived the kill");
    child.kill().await.unwrap();
    assert!(log.contains("signed up"), "the log is the server's: {log}");
    assert!(
        !log.contains(PASSWORD) && !log.contains(&session),
        "a secret in the log"
    );
}

/// The page data a rendered page carries (see `app::state::page::PageData`).
fn page_data(html: &str) -> app::state::page::PageData {
    let json = html
        .split_once(r#"<script type="application/json" id="page-data">"#)
        .and_then(|(_, rest)| rest.split_once("</script>"))
        .map(|(json, _)| json)
        .expect("the page carries its data");
    app::wire::json::from_str(json).unwrap()
}

async fn page(base: &str, path: &str, cookie: Option<&str>) -> String {
    let mut req = reqwest::Client::new().get(format!("{base}{path}"));
    if let Some(c) = cookie {
        req = req.header(COOKIE, c);
    }
    let resp = req.send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    resp.text().await.unwrap()
}

/// The first HTML a signed-in user gets is rendered with their first watchlist and their view
/// (no flash of the default one); a link's own view still wins; nobody else sees theirs.
#[tokio::test]
async fn a_signed_in_users_first_page_opens_on_their_watchlist_and_view() {
    use serde_json::json;
    let server = TestServer::with_accounts(accounts(&sqlite_url("page")).await).await;
    let base = &server.base;
    let resp = post(base, "/api/signup", &credentials("grace", PASSWORD), None).await;
    let (grace, _) = session_cookie(&resp);
    let list = json!({"symbols": ["TSLA", "JNJ", "BTC-USD"]});
    send(
        base,
        reqwest::Method::PUT,
        "/api/watchlists/Mine",
        Some(list),
        Some(&grace),
    )
    .await;
    let view =
        json!({"symbol": "JNJ", "interval": "1m", "mode": "line", "depth": false, "theme": "dark", "transport": "ws"});
    send(base, reqwest::Method::PUT, "/api/view", Some(view), Some(&grace)).await;

    let html = page(base, "/", Some(&grace)).await;
    let rows: Vec<&str> = html
        .split("data-testid=\"quote-row\" data-symbol=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .collect();
    assert_eq!(rows, ["TSLA", "JNJ", "BTC-USD"], "her watchlist, in her order");
    let data = page_data(&html);
    assert_eq!(data.view.symbol.as_deref(), Some("JNJ"));
    assert_eq!(data.view.interval.to_string(), "1m");
    assert_eq!(data.view.mode.as_str(), "line");
    assert_eq!((data.view.depth, data.view.transport.as_str()), (false, "ws"));
    assert_eq!(data.chart.as_ref().map(|c| c.symbol.as_str()), Some("JNJ"));

    // A link with a view of its own opens that view.
    let linked = page_data(&page(base, "/?symbols=AAPL&interval=5s", Some(&grace)).await);
    assert_eq!(linked.view.symbols, Some(vec!["AAPL".to_string()]));
    // Signed out, or another user: the default page.
    for cookie in [None, Some("tt_session=forged")] {
        let anonymous = page_data(&page(base, "/", cookie).await);
        assert_eq!(anonymous.view, app::state::view::ViewState::default());
    }
}
