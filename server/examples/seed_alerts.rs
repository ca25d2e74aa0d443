//! Loads a store with price alerts, for the `alerts` scenario of BENCHMARKS.md: what holding
//! 100 000 of them costs the market's frames.
//!
//! `seed_alerts DATABASE_URL N`: N alerts of N/100 users (100 each), spread over the default
//! universe's symbols, `crossing_up` at twice the symbol's opening price or `crossing_down` at half
//! of it, `every_time`: all of them in the engine's index, none near enough to fire, so a run
//! measures their being there, not their firing.

use std::time::Instant;
use tickertape_server::feed::market::{Market, default_universe};
use tickertape_server::store::alerts::{AlertRow, Saved};
use tickertape_server::store::{Store, parse_database_url};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(url), Some(n)) = (args.get(1), args.get(2).and_then(|n| n.parse::<usize>().ok())) else {
        eprintln!("usage: seed_alerts DATABASE_URL N");
        std::process::exit(2);
    };
    let store = Store::connect(&parse_database_url(url).unwrap_or_else(|e| panic!("{e}")))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let quotes = Market::new(default_universe(), 1, 10.0).quotes();
    let started = Instant::now();
    let mut user = 0;
    for i in 0..n {
        if i % 100 == 0 {
            user = store
                .create_user(&format!("bench{}", i / 100), "not a password", 0)
                .await
                .expect("a user");
        }
        let quote = &quotes[i % quotes.len()];
        let up = i % 2 == 0;
        let row = AlertRow {
            id: 0,
            user_id: user,
            symbol: quote.symbol.clone(),
            condition: if up { "crossing_up" } else { "crossing_down" }.into(),
            price: Some(if up { quote.price * 2 } else { (quote.price / 2).max(1) }),
            low: None,
            high: None,
            pct_bp: None,
            bars: None,
            frequency: "every_time".into(),
            interval: None,
            expires: None,
            note: String::new(),
            state: "active".into(),
            last_fired: None,
            fire_count: 0,
        };
        match store.create_alert(&row, 0, usize::MAX).await.expect("an alert") {
            Saved::Done(_) => {}
            other => panic!("{other:?}"),
        }
    }
    println!(
        "{n} alerts of {} users in {:.1} s",
        n.div_ceil(100),
        started.elapsed().as_secs_f64()
    );
}
