//! The hub's guarantees, checked against a seeded market.

use super::*;
use crate::feed::generator::next_trades;
use crate::feed::market::{Market, default_universe};
use app::wire::book::Book;
use app::wire::protocol::TickFrame;

fn hub_with(history: usize, live: usize) -> (Arc<Hub>, Market) {
    let market = Market::new(default_universe(), 9, 10.0);
    let hub = Hub::for_market(
        0xabc,
        &market,
        HubConfig {
            history_frames: history,
            live_buffer: live,
        },
        Arc::new(Metrics::default()),
    );
    (Arc::new(hub), market)
}

fn step(hub: &Hub, market: &mut Market, n: usize) {
    for _ in 0..n {
        hub.publish(1_700_000_000_000, next_trades(market));
    }
}

#[test]
fn start_decisions() {
    let id = |e, s| Some(EventId::new(e, s));
    assert_eq!(decide_start(None, 1, Some(5), 10, 0), Start::Snapshot);
    assert_eq!(
        decide_start(id(2, 7), 1, Some(5), 10, 0),
        Start::Resync,
        "foreign epoch"
    );
    assert_eq!(
        decide_start(id(1, 11), 1, Some(5), 10, 0),
        Start::Resync,
        "from the future"
    );
    assert_eq!(decide_start(id(1, 7), 1, Some(5), 10, 0), Start::Replay { after: 7 });
    assert_eq!(
        decide_start(id(1, 4), 1, Some(5), 10, 0),
        Start::Replay { after: 4 },
        "oldest is the next frame"
    );
    assert_eq!(decide_start(id(1, 3), 1, Some(5), 10, 0), Start::Resync, "past history");
    assert_eq!(
        decide_start(id(1, 10), 1, Some(5), 10, 0),
        Start::Replay { after: 10 },
        "up to date"
    );
    assert_eq!(
        decide_start(id(1, 0), 1, None, 0, 0),
        Start::Replay { after: 0 },
        "nothing published yet"
    );
    assert_eq!(
        decide_start(id(1, 12), 1, Some(5), 10, 4),
        Start::Ahead { until: 12 },
        "an edge a little behind"
    );
    assert_eq!(
        decide_start(id(1, 15), 1, Some(5), 10, 4),
        Start::Resync,
        "too far ahead"
    );
}

#[tokio::test]
async fn fresh_subscriber_gets_snapshot_then_live_ticks() {
    let (hub, mut market) = hub_with(100, 64);
    step(&hub, &mut market, 3);
    let mut sub = hub.subscribe(None, Selection::all());
    let first = sub.next().await;
    assert_eq!(first.kind, EventKind::Snapshot);
    assert_eq!(first.id, EventId::new(0xabc, 3));
    let snap: Snapshot = serde_json::from_str(&first.data).unwrap();
    assert_eq!(snap.quotes.len(), hub.instruments().len());
    step(&hub, &mut market, 5);
    let ticks = sub.drain_ready();
    assert!(ticks.iter().all(|e| e.kind == EventKind::Tick));
    let seqs: Vec<u64> = ticks.iter().map(|e| e.id.seq).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]) && seqs.iter().all(|s| (4..=8).contains(s)),
        "{seqs:?}"
    );
}

#[tokio::test]
async fn resume_replays_exactly_the_missed_frames() {
    let (hub, mut market) = hub_with(100, 64);
    let mut always = hub.subscribe(None, Selection::all());
    always.next().await;
    step(&hub, &mut market, 10);
    let seen = always.drain_ready();
    let cut = seen[2].id;
    let mut resumed = hub.subscribe(Some(cut), Selection::all());
    assert_eq!(resumed.drain_ready(), seen[3..].to_vec());
    step(&hub, &mut market, 4);
    assert_eq!(resumed.drain_ready(), always.drain_ready(), "then live, in step");
}

#[tokio::test]
async fn resume_outside_history_or_epoch_resyncs() {
    let (hub, mut market) = hub_with(10, 64);
    step(&hub, &mut market, 30);
    for from in [EventId::new(0xabc, 5), EventId::new(0xdef, 29), EventId::new(0xabc, 31)] {
        let mut sub = hub.subscribe(Some(from), Selection::all());
        let ev = sub.drain_ready();
        assert_eq!(ev.len(), 1, "{from}: a single resync and nothing else");
        assert_eq!((ev[0].kind, ev[0].id), (EventKind::Resync, EventId::new(0xabc, 30)));
    }
    assert_eq!(hub.metrics.resyncs.get(), 3);
}

#[tokio::test]
async fn filtered_ticks_hold_only_selected_symbols_and_skip_empty_frames() {
    let (hub, mut market) = hub_with(1000, 1000);
    let sel = hub.select(Some("aapl, BTC-USD")).unwrap();
    let mut sub = hub.subscribe(None, sel);
    let snap: Snapshot = serde_json::from_str(&sub.next().await.data).unwrap();
    assert_eq!(
        snap.quotes.iter().map(|q| q.symbol.as_str()).collect::<Vec<_>>(),
        ["AAPL", "BTC-USD"]
    );
    step(&hub, &mut market, 200);
    let ticks = sub.drain_ready();
    assert!(
        !ticks.is_empty() && ticks.len() < 200,
        "some frames had neither symbol moving"
    );
    for e in ticks {
        let frame: TickFrame = serde_json::from_str(&e.data).unwrap();
        assert_eq!(frame.seq, e.id.seq);
        assert!(!frame.quotes.is_empty());
        assert!(frame.quotes.iter().all(|q| q.symbol == "AAPL" || q.symbol == "BTC-USD"));
    }
}

#[tokio::test]
async fn a_lagging_subscriber_gets_a_resync_and_carries_on() {
    let (hub, mut market) = hub_with(1000, 8);
    let mut slow = hub.subscribe(None, Selection::all());
    let mut fast = hub.subscribe(None, Selection::all());
    slow.next().await;
    fast.next().await;
    let mut fast_seen = Vec::new();
    for _ in 0..50 {
        step(&hub, &mut market, 1);
        fast_seen.extend(fast.drain_ready());
    }
    assert!(
        fast_seen.iter().all(|e| e.kind == EventKind::Tick),
        "the fast one is unaffected"
    );
    let first = slow.next().await;
    assert_eq!((first.kind, first.id.seq), (EventKind::Resync, 50));
    assert!(
        slow.drain_ready().is_empty(),
        "frames covered by the resync are skipped"
    );
    step(&hub, &mut market, 3);
    assert_eq!(slow.drain_ready(), fast.drain_ready());
    assert_eq!(hub.metrics.lagged.get(), 1);
}

#[test]
fn history_is_bounded() {
    let (hub, mut market) = hub_with(10, 8);
    step(&hub, &mut market, 100);
    assert_eq!(hub.lock().history.len(), 10);
    assert_eq!(hub.lock().history.front().unwrap().seq, 91);
}

#[test]
fn unknown_and_too_many_symbols_are_refused() {
    let (hub, _) = hub_with(10, 8);
    assert_eq!(hub.select(Some("AAPL,NOPE")), Err(SelectError::Unknown("NOPE".into())));
    let many = vec!["AAPL"; app::wire::protocol::MAX_SYMBOLS + 1].join(",");
    assert!(matches!(hub.select(Some(&many)), Err(SelectError::TooMany { .. })));
    assert_eq!(hub.select(Some(" ")), Ok(Selection::all()));
}

/// Frames numbered by a generator elsewhere, as an edge receives them.
fn records(market: &mut Market, epoch: u64, seqs: std::ops::RangeInclusive<u64>) -> Vec<FrameRecord> {
    seqs.map(|seq| FrameRecord {
        epoch,
        seq,
        ts: 1_700_000_000_000 + seq as i64,
        trades: next_trades(market),
    })
    .collect()
}

#[tokio::test]
async fn applied_frames_must_follow_on_and_duplicates_are_ignored() {
    let (hub, mut market) = hub_with(100, 64);
    let mut sub = hub.subscribe(None, Selection::all());
    sub.next().await;
    let frames = records(&mut market, 0xabc, 1..=5);
    for f in frames.iter().take(3).cloned() {
        assert_eq!(hub.apply(f), Ok(Applied::Published));
    }
    assert_eq!(hub.apply(frames[1].clone()), Ok(Applied::Duplicate));
    let gap = hub.apply(frames[4].clone()).unwrap_err();
    assert_eq!(
        gap,
        Refused::Gap(Discontinuity {
            last: EventId::new(0xabc, 3),
            got: EventId::new(0xabc, 5)
        })
    );
    let other_epoch = FrameRecord {
        epoch: 0xdef,
        ..frames[3].clone()
    };
    assert!(hub.apply(other_epoch).is_err());
    let seqs: Vec<u64> = sub.drain_ready().iter().map(|e| e.id.seq).collect();
    assert!(seqs.iter().all(|s| (1..=3).contains(s)) && !seqs.is_empty(), "{seqs:?}");
}

/// Frames from outside (the market bus) that name instruments this node does not have, or
/// under another symbol, or out of order, are refused before they touch anything, and never
/// panic the hub; a reset leaves them out.
#[tokio::test]
async fn damaged_frames_from_outside_are_refused_not_applied() {
    let (hub, mut market) = hub_with(100, 64);
    let mut sub = hub.subscribe(None, Selection::all());
    sub.next().await;
    let good = records(&mut market, 0xabc, 1..=1).remove(0);
    let n = hub.instruments().len();
    let mut damaged = Vec::new();
    let mut out_of_range = good.clone();
    out_of_range.trades[0].index = n;
    damaged.push(out_of_range);
    let mut huge = good.clone();
    huge.trades[0].index = usize::MAX;
    damaged.push(huge);
    let mut renamed = good.clone();
    renamed.trades[0].quote.symbol = "NOPE".into();
    damaged.push(renamed);
    let mut reversed = good.clone();
    reversed.trades.reverse();
    if reversed.trades.len() > 1 {
        damaged.push(reversed);
    }
    for frame in &damaged {
        assert!(
            matches!(hub.apply(frame.clone()), Err(Refused::Invalid(..))),
            "{frame:?}"
        );
    }
    assert_eq!(hub.last_id(), EventId::new(0xabc, 0), "nothing applied");
    assert!(sub.drain_ready().is_empty());
    assert_eq!(hub.apply(good.clone()), Ok(Applied::Published));

    // A reset leaves them out, and the checkpoint's quotes must name the universe too.
    let checkpoint = hub.snapshot(&Selection::all());
    let mut wrong_quotes = checkpoint.clone();
    wrong_quotes.quotes.swap(0, 1);
    assert!(matches!(hub.reset(wrong_quotes, vec![]), Err(ResetError::Universe(_))));
    hub.reset(checkpoint, damaged).unwrap();
    assert_eq!(hub.last_id(), EventId::new(0xabc, 1));
}

#[tokio::test]
async fn an_edge_behind_a_resuming_client_waits_for_its_frames_instead_of_resyncing() {
    let market = Market::new(default_universe(), 9, 10.0);
    let config = HubConfig {
        history_frames: 100,
        live_buffer: 64,
    };
    let metrics = Arc::new(Metrics::default());
    let hub = Hub::for_market(0xabc, &market, config, metrics).with_resume_lead(64);
    let hub = Arc::new(hub);
    let mut source = Market::new(default_universe(), 9, 10.0);
    let frames = records(&mut source, 0xabc, 1..=6);
    for f in frames.iter().take(3).cloned() {
        hub.apply(f).unwrap();
    }
    // The client already has frame 5 from a node that is two frames further.
    let mut sub = hub.subscribe(Some(EventId::new(0xabc, 5)), Selection::all());
    assert!(sub.drain_ready().is_empty(), "nothing to send yet, and no resync");
    for f in frames.iter().skip(3).cloned() {
        hub.apply(f).unwrap();
    }
    let events = sub.drain_ready();
    assert_eq!(
        events.iter().map(|e| (e.kind, e.id.seq)).collect::<Vec<_>>(),
        [(EventKind::Tick, 6)]
    );
    assert_eq!(hub.metrics.resyncs.get(), 0);
}

#[tokio::test]
async fn a_reset_to_a_new_epoch_resyncs_subscribers_and_keeps_the_tail_for_resuming() {
    let (hub, mut market) = hub_with(100, 64);
    step(&hub, &mut market, 5);
    let mut sub = hub.subscribe(None, Selection::all());
    sub.next().await;
    // A new generator: its checkpoint at 0xbee-10, and frames 8..=12 of which 9 is gone.
    let mut fresh = Market::new(default_universe(), 9, 10.0);
    let checkpoint = Snapshot {
        id: Some(EventId::new(0xbee, 10)),
        seq: 10,
        ts: 1,
        instruments: hub.instruments().to_vec(),
        quotes: fresh.quotes(),
        books: fresh.books(),
    };
    let mut frames = records(&mut fresh, 0xbee, 8..=12);
    frames.remove(1);
    let newest = frames.last().unwrap().trades.clone();
    hub.reset(checkpoint.clone(), frames.clone()).unwrap();
    assert_eq!(hub.last_id(), EventId::new(0xbee, 12));
    let snap = hub.snapshot(&Selection::all());
    for t in &newest {
        assert_eq!(snap.quotes[t.index], t.quote, "quotes move on past the checkpoint");
    }
    // History holds 10..=12, the run that ends with the newest: 9 is not claimed.
    assert_eq!(
        hub.subscribe(Some(EventId::new(0xbee, 9)), Selection::all())
            .drain_ready()
            .len(),
        3
    );
    assert_eq!(
        hub.subscribe(Some(EventId::new(0xbee, 8)), Selection::all())
            .drain_ready()[0]
            .kind,
        EventKind::Resync
    );

    // The existing subscriber notices at the next frame: one resync, then live again.
    let next = records(&mut fresh, 0xbee, 13..=13).remove(0);
    hub.apply(next).unwrap();
    let events = sub.drain_ready();
    assert_eq!(events[0].kind, EventKind::Resync);
    assert_eq!(events.len(), 1, "the resync is taken now, at 13, and covers it");
    assert_eq!(events[0].id, EventId::new(0xbee, 13));

    let mut wrong = checkpoint;
    wrong.instruments.pop();
    assert!(matches!(hub.reset(wrong, vec![]), Err(ResetError::Universe(_))));
}

#[test]
fn candles_follow_trades() {
    let (hub, mut market) = hub_with(10, 8);
    step(&hub, &mut market, 50);
    let h = hub.history("AAPL", Interval::S1, 10).unwrap();
    assert_eq!(h.seq, 50);
    let c = h.candles;
    assert_eq!(c.len(), 1, "all frames were stamped in the same second");
    assert_eq!(c[0].close, hub.snapshot(&Selection::all()).quotes[0].price);
    assert!(hub.history("NOPE", Interval::S1, 10).is_none());
}

/// A replay longer than one batch from history delivers every frame, in order; a replay whose
/// frames are trimmed away before it gets to them ends in a resync, never a gap.
#[tokio::test]
async fn long_replays_are_exact_or_resynced() {
    let (hub, mut market) = hub_with(300, 1000);
    step(&hub, &mut market, 250);
    let mut sub = hub.subscribe(Some(EventId::new(0xabc, 10)), Selection::all());
    let events = sub.drain_ready();
    let seqs: Vec<u64> = events.iter().map(|e| e.id.seq).collect();
    assert!(events.iter().all(|e| e.kind == EventKind::Tick));
    assert!(seqs.windows(2).all(|w| w[0] < w[1]) && seqs.first() > Some(&10) && seqs.last() == Some(&250));

    let mut slow = hub.subscribe(Some(EventId::new(0xabc, 60)), Selection::all());
    let first = slow.take_ready(5);
    assert!(first.iter().all(|e| e.kind == EventKind::Tick && e.id.seq <= 60 + 64));
    // The market runs on: the frames the slow replay has not reached leave the history.
    step(&hub, &mut market, 300);
    let rest = slow.drain_ready();
    let resync = rest.iter().position(|e| e.kind == EventKind::Resync).expect("a resync");
    let before: Vec<u64> = first.iter().chain(&rest[..resync]).map(|e| e.id.seq).collect();
    assert!(
        before.windows(2).all(|w| w[0] < w[1]),
        "in order up to the resync: {before:?}"
    );
    assert_eq!(rest[resync].id, hub.last_id());
    assert!(rest[resync + 1..].is_empty(), "the resync covers everything up to now");
}

#[tokio::test]
async fn the_whole_markets_snapshot_is_encoded_once_per_frame() {
    let (hub, mut market) = hub_with(100, 100);
    step(&hub, &mut market, 3);
    let first = hub.subscribe(None, Selection::all()).next().await;
    let second = hub.subscribe(None, Selection::all()).next().await;
    assert_eq!(first.kind, EventKind::Snapshot);
    assert!(
        Arc::ptr_eq(&first.data, &second.data),
        "the second snapshot reuses the first's bytes"
    );
    // A resync at the same frame shares them too, under its own name.
    let resync = hub
        .subscribe(Some(EventId::new(0xdead, 1)), Selection::all())
        .next()
        .await;
    assert_eq!(resync.kind, EventKind::Resync);
    assert!(Arc::ptr_eq(&first.data, &resync.data));
    // A filtered snapshot is its own; a later frame is encoded afresh, with its own quotes.
    let some = hub.select(Some("AAPL")).unwrap();
    let filtered = hub.subscribe(None, some).next().await;
    assert!(!filtered.data.contains("MSFT") && first.data.contains("MSFT"));
    step(&hub, &mut market, 1);
    let later = hub.subscribe(None, Selection::all()).next().await;
    assert_eq!((later.id.seq, first.id.seq), (4, 3));
    assert_eq!(
        *later.data,
        *serde_json::to_string(&hub.snapshot(&Selection::all())).unwrap()
    );
}

/// A client that applies each tick's [`QuoteUpdate`]s to the snapshot it started from holds
/// exactly the hub's quotes at every frame; so does one that left and resumed, or was resynced.
#[tokio::test]
async fn ticks_carry_what_changed_and_applied_to_the_snapshot_give_the_exact_state() {
    use app::wire::protocol::Quote;
    let (hub, mut market) = hub_with(1_000, 1_000);
    step(&hub, &mut market, 5);
    let mut sub = hub.subscribe(None, Selection::all());
    let first = sub.next().await;
    let mut held: Vec<Quote> = serde_json::from_str::<Snapshot>(&first.data).unwrap().quotes;
    let apply = |held: &mut Vec<Quote>, data: &str| {
        let frame: TickFrame = serde_json::from_str(data).unwrap();
        for update in &frame.quotes {
            assert_eq!(update.open, None, "a tick leaves out the open");
            let quote = held.iter_mut().find(|q| q.symbol == update.symbol).unwrap();
            quote.apply(update);
        }
    };
    let (mut left_at, mut highs, mut lows) = (None, 0, 0);
    for n in 0..2_000 {
        step(&hub, &mut market, 1);
        let event = sub.next().await;
        highs += event.data.matches("\"high\"").count();
        lows += event.data.matches("\"low\"").count();
        apply(&mut held, &event.data);
        assert_eq!(held, hub.snapshot(&Selection::all()).quotes, "frame {}", event.id);
        if n == 1_000 {
            left_at = Some((event.id, held.clone()));
        }
    }
    assert!(highs > 0 && lows > 0, "new highs and lows are sent ({highs}, {lows})");
    // A client that left at frame 1 000 and resumes replays the rest onto what it held.
    let (id, mut resumed) = left_at.unwrap();
    let mut sub = hub.subscribe(Some(id), Selection::all());
    while let Some(event) = sub.try_next() {
        assert_eq!(event.kind, EventKind::Tick);
        apply(&mut resumed, &event.data);
    }
    assert_eq!(resumed, held, "the resumed client ends where the first did");
}

/// A client's copy of the books of its depth symbols and of their tape, kept from its events as
/// the page reads them (the page's JSON reader), checking every update's checksum.
#[derive(Default)]
struct DepthClient {
    books: HashMap<String, Book>,
    tape: HashMap<String, Vec<Print>>,
    last: Option<EventId>,
}

impl DepthClient {
    fn take(&mut self, hub: &Hub, event: &Event) {
        let payload: app::wire::protocol::Payload = app::wire::json::from_str(&event.data).expect("the page reads it");
        let decimals = |symbol: &str| {
            let i = hub.instruments().iter().find(|i| i.symbol == symbol).unwrap();
            (i.decimals, i.size_decimals)
        };
        match event.kind {
            EventKind::Snapshot | EventKind::Resync => {
                self.books = payload
                    .books
                    .unwrap()
                    .iter()
                    .map(|b| (b.symbol.clone(), Book::from_update(b)))
                    .collect();
                self.tape.clear();
            }
            EventKind::Private(_) => unreachable!("the hub makes no private events"),
            EventKind::Tick => {
                for update in payload.books.unwrap_or_default() {
                    let book = self.books.get_mut(&update.symbol).expect("a depth symbol");
                    book.apply(&update);
                    let (price, size) = decimals(&update.symbol);
                    assert_eq!(book.checksum(price, size), update.checksum, "at {}", event.id);
                }
                for print in payload.trades.unwrap_or_default() {
                    self.tape.entry(print.symbol.clone()).or_default().push(print);
                }
            }
        }
        self.last = Some(event.id);
    }

    /// Holds exactly the hub's books, and (with `tape`) the newest of its prints are the hub's.
    fn agrees_with(&self, hub: &Hub, symbols: &[&str], tape: bool) {
        for symbol in symbols {
            let at = hub.book(symbol).unwrap();
            let book = Book {
                bids: at.bids,
                asks: at.asks,
            };
            assert_eq!(self.books[*symbol], book, "{symbol} at {}", at.seq);
            if !tape {
                continue;
            }
            let tape = &self.tape.get(*symbol).cloned().unwrap_or_default();
            let newest: Vec<Print> = tape.iter().rev().take(TAPE_KEPT).cloned().collect();
            let held = hub.trades(symbol, TAPE_KEPT).unwrap().trades;
            assert_eq!(newest, held[..newest.len()], "{symbol}: the tape the stream carried");
        }
    }
}

#[test]
fn a_client_applying_depth_updates_holds_the_servers_books_across_resumes_and_resyncs() {
    let depth = ["AAPL", "BTC-USD", "DOGE-USD", "EUR-USD"];
    for seed in 1..=6 {
        let mut market = Market::new(default_universe(), seed, 10.0);
        let hub = Arc::new(Hub::for_market(
            seed,
            &market,
            HubConfig {
                history_frames: 100,
                live_buffer: 4096,
            },
            Arc::new(Metrics::default()),
        ));
        let selection = hub
            .with_depth(
                hub.select(Some("AAPL,MSFT,BTC-USD,DOGE-USD,EUR-USD")).unwrap(),
                Some("eur-usd,AAPL,BTC-USD,DOGE-USD"),
            )
            .unwrap();
        let mut client = DepthClient::default();
        let mut sub = hub.subscribe(None, selection.clone());
        for frame in 1..=1_200u64 {
            Hub::publish(&hub, 1_700_000_000_000 + frame as i64 * 100, next_trades(&mut market));
            for event in sub.drain_ready() {
                client.take(&hub, &event);
            }
            client.agrees_with(&hub, &depth, frame % 100 == 0);
            match frame {
                // The client goes away for 60 frames and resumes: the replay carries the book.
                500 => {
                    drop(std::mem::replace(&mut sub, hub.subscribe(None, Selection::all())));
                    step(&hub, &mut market, 60);
                    sub = hub.subscribe(client.last, selection.clone());
                }
                // Away longer than history holds: a resync brings whole books.
                900 => {
                    step(&hub, &mut market, 150);
                    sub = hub.subscribe(client.last, selection.clone());
                    let resync = sub.drain_ready();
                    assert_eq!(resync[0].kind, EventKind::Resync);
                    resync.iter().for_each(|e| client.take(&hub, e));
                    client.agrees_with(&hub, &depth, false);
                }
                _ => {}
            }
        }
        assert_eq!(hub.metrics.book_mismatches.get(), 0);
    }
}

#[test]
fn depth_is_a_few_selected_symbols_and_only_its_streams_carry_books() {
    let (hub, mut market) = hub_with(100, 64);
    let some = hub.select(Some("AAPL,MSFT")).unwrap();
    assert_eq!(
        hub.with_depth(some.clone(), Some("TSLA")),
        Err(SelectError::DepthNotSelected("TSLA".into()))
    );
    let symbols: Vec<&str> = hub.instruments().iter().map(|i| i.symbol.as_str()).collect();
    let fits = symbols[..MAX_DEPTH_SYMBOLS].join(",");
    assert!(hub.with_depth(Selection::all(), Some(&fits)).is_ok());
    let too_many = symbols[..=MAX_DEPTH_SYMBOLS].join(",");
    assert_eq!(
        hub.with_depth(Selection::all(), Some(&too_many)),
        Err(SelectError::TooDeep)
    );
    assert_eq!(
        hub.with_depth(Selection::all(), Some("NOPE")),
        Err(SelectError::Unknown("NOPE".into()))
    );
    let deep = hub.with_depth(some.clone(), Some("AAPL")).unwrap();
    assert_eq!(deep.depth(), [0]);
    // Depth follows what stays selected.
    assert_eq!(
        hub.reselect(&deep, &[], &["AAPL".into()]).unwrap().depth(),
        [] as [usize; 0]
    );
    let mut plain = hub.subscribe(None, Selection::all());
    let mut with = hub.subscribe(None, deep);
    let (snap, deep_snap) = (plain.drain_ready(), with.drain_ready());
    assert!(!snap[0].data.contains("\"books\":[{"));
    assert!(deep_snap[0].data.contains(r#""books":[{"symbol":"AAPL","bids":[["#));
    step(&hub, &mut market, 50);
    assert!(plain.drain_ready().iter().all(|e| !e.data.contains("books")));
    let ticks = with.drain_ready();
    assert!(ticks.iter().any(|e| e.data.contains(r#""books":[{"symbol":"AAPL""#)));
    assert!(ticks.iter().any(|e| e.data.contains(r#""trades":[{"symbol":"AAPL""#)));
    assert!(ticks.iter().all(|e| !e.data.contains(r#""symbol":"MSFT","bids""#)));

    // Streams of every quote and the same book share one payload per frame (and so one
    // encoding in their fan-out group); a frame replayed from history is built anew.
    let page = hub.with_depth(Selection::all(), Some("AAPL")).unwrap();
    let (mut a, mut b) = (hub.subscribe(None, page.clone()), hub.subscribe(None, page.clone()));
    let (from, _) = (hub.last_id(), (a.drain_ready(), b.drain_ready()));
    let mut shared = 0;
    while shared < 20 {
        step(&hub, &mut market, 1);
        for (x, y) in a.drain_ready().iter().zip(b.drain_ready().iter()) {
            assert!(Arc::ptr_eq(&x.data, &y.data), "one payload for both");
            shared += 1;
        }
    }
    let replayed = |hub: &Arc<Hub>| hub.subscribe(Some(from), page.clone()).drain_ready();
    let (x, y) = (replayed(&hub), replayed(&hub));
    assert_eq!(x, y);
    // (A frame in which AAPL did not trade is the frame's own JSON, shared by every stream.)
    let traded = x.iter().position(|e| e.data.contains("books")).expect("AAPL traded");
    assert!(
        !Arc::ptr_eq(&x[traded].data, &y[traded].data),
        "history keeps no shared copies"
    );
}
