//! Loads a store with price alerts, for the `alerts` scenario of BENCHMARKS.md: what holding
//! 100 000 of them costs the market's frames.
//!
//! `seed_alerts DATABASE_URL N`: N alerts of N/100 users (100 each), spread over the default
//! universe's symbols, `crossing_up` at twice the symbol's opening price or `crossing_down` at half
//! of it, `every_time`: all of them in the engine's index, none near enough to fire, so a run
//! measures their being there, not their firing.

use std::time::Instant;
use tickertape_server::feed::market::{Market, default_universe};
use tickertape_server::store::{Store, parse_database_url};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(url), Some(n)) = (args.get(1), args.get(2).and_then(|n| n.parse::<i64>().ok())) else {
        eprintln!("usage: seed_alerts DATABASE_URL N");
        std::process::exit(2);
    };
    // The store's own connection makes the file and its schema.
    let store = Store::connect(&parse_database_url(url).unwrap_or_else(|e| panic!("{e}")))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let started = Instant::now();
    let users = (n + 99) / 100;
    let mut first = None;
    for u in 0..users {
        let id = store
            .create_user(&format!("bench{u}"), "not a password", 0)
            .await
            .expect("a user");
        first.get_or_insert(id);
    }
    let first = first.unwrap_or(1);
    // The alerts in one statement per symbol (a row per alert through the store's API took
    // minutes): user ids are consecutive in a fresh store.
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(url).await.expect("the database");
    let quotes = Market::new(default_universe(), 1, 10.0).quotes();
    let per_symbol = n / quotes.len() as i64;
    for (k, quote) in quotes.iter().enumerate() {
        let count = per_symbol + i64::from((k as i64) < n % quotes.len() as i64);
        sqlx::query(
            "WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i + 1 < $1) \
             INSERT INTO alerts (user_id, symbol, condition, price, frequency, note, state, created_at, fire_count) \
             SELECT $2 + (i % $3), $4, \
                    CASE WHEN i % 2 = 0 THEN 'crossing_up' ELSE 'crossing_down' END, \
                    CASE WHEN i % 2 = 0 THEN $5 ELSE $6 END, 'every_time', '', 'active', 0, 0 FROM seq",
        )
        .bind(count)
        .bind(first)
        .bind(users)
        .bind(quote.symbol.as_str())
        .bind(quote.price * 2)
        .bind((quote.price / 2).max(1))
        .execute(&pool)
        .await
        .expect("the alerts");
    }
    println!(
        "{n} alerts of {users} users in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
