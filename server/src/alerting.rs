//! Alerts at work (issue 26): what joins the engine ([`crate::alerts`], pure), the store and the
//! private channel.
//!
//! - [`Alerting`] wraps where the generator's frames go ([`Publish`]): after each frame is
//!   published it feeds the frame's trades to the engine, under a lock held for microseconds,
//!   and queues what fired. The market's hot path never waits for the store: the queue is
//!   bounded ([`QUEUE`]) and a full one drops the firing, counted and logged.
//! - [`AlertDesk::run`] empties that queue: each firing is one store transaction (the inbox
//!   entry, the alert's count and state, the user's event number), then a `notification` event
//!   on every stream of the owner, on every node. A store that is down holds the queue (retried
//!   every [`RETRY`]); the market streams on meanwhile.
//! - The REST handlers (`http::alerts`) call the desk to create, change and delete alerts: the
//!   store first, then the engine.
//!
//! Where the engine runs: in the process that makes the market (the embedded node, or the
//! generator on the bus). Every node serves the endpoints; a change made through another node
//! reaches the engine through the bus ([`crate::private::Relayed::Alert`]: the id, read again
//! from the shared store). Alerts are loaded from the store at start-up, so a restart or a
//! `kill -9` keeps them; an alert that fired but whose write had not committed fires again at
//! its next qualifying trade, and the inbox's key makes a second write for one frame a no-op.

use crate::accounts::{AccountError, Accounts, User};
use crate::alerts::{Alerts, Condition, Frequency, MAX_BARS, Outcome, Spec, State};
use crate::feed::{Publish, Trade};
use crate::private::PrivateEvent;
use crate::store::StoreError;
use crate::store::alerts::{AlertRow, Firing, InboxRow, Saved};
use app::wire::alerts::{
    Alert, AlertPatch, CONDITIONS, EVENT_NOTIFICATION, EVENT_READ, FREQUENCIES, NewAlert, Notification, ReadMark,
};
use app::wire::protocol::{Instrument, Interval};
use prometheus_client::metrics::counter::Counter;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Firings and ends waiting for the store, at most.
pub const QUEUE: usize = 65_536;
/// Alerts read from the store at a time at start-up.
const LOAD_PAGE: i64 = 2_000;
/// Alert changes from other nodes waiting to be read, at most.
const CHANGES: usize = 1_024;
/// How long the writer waits before trying a failed write again.
const RETRY: Duration = Duration::from_millis(500);
/// Alert creations one user may make per [`CREATION_WINDOW`].
pub const CREATIONS_PER_MINUTE: usize = 30;
const CREATION_WINDOW: Duration = Duration::from_secs(60);
/// Users the creation throttle remembers at most (it starts over when full).
const THROTTLE_USERS: usize = 100_000;
/// The longest note.
pub const MAX_NOTE: usize = 200;

/// What the writer does with the store.
#[derive(Debug)]
enum Job {
    Fire(Firing),
    End { alert_id: i64, state: &'static str },
}

/// The engine, the queue to the store, and the rules the API checks.
pub struct AlertDesk {
    engine: Mutex<Alerts>,
    instruments: Vec<Instrument>,
    jobs: mpsc::Sender<Job>,
    queue: Mutex<Option<mpsc::Receiver<Job>>>,
    accounts: Accounts,
    max_per_user: usize,
    retention: Duration,
    creations: Mutex<HashMap<i64, VecDeque<Instant>>>,
    /// Firings dropped because the queue was full (`tickertape_alert_firings_dropped` once
    /// [`AlertDesk::with_metrics`] ties it to the node's metrics).
    dropped: Counter,
}

impl AlertDesk {
    pub fn new(accounts: Accounts, instruments: Vec<Instrument>, max_per_user: usize, retention: Duration) -> Self {
        let (jobs, queue) = mpsc::channel(QUEUE);
        AlertDesk {
            engine: Mutex::new(Alerts::new(instruments.len())),
            instruments,
            jobs,
            queue: Mutex::new(Some(queue)),
            accounts,
            max_per_user,
            retention,
            creations: Mutex::default(),
            dropped: Counter::default(),
        }
    }

    /// Counts the firings it drops in `metrics` (`GET /metrics`).
    pub fn with_metrics(mut self, metrics: &crate::metrics::Metrics) -> Self {
        self.dropped = metrics.alert_firings_dropped.clone();
        self
    }

    fn engine(&self) -> std::sync::MutexGuard<'_, Alerts> {
        self.engine.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn symbol_index(&self, symbol: &str) -> Option<usize> {
        self.instruments.iter().position(|i| i.symbol == symbol)
    }

    /// Puts a stored alert in the engine, or takes it out when it is not live. An alert the
    /// engine holds as it is stored is left as it is (with its firing history and its wait).
    fn arm(&self, row: &AlertRow) {
        let mut engine = self.engine();
        let spec = self.symbol_index(&row.symbol).and_then(|symbol| spec_of(row, symbol));
        let held = engine
            .get(row.id as u64)
            .map(|(spec, state)| (Some(spec), state_name(state)));
        if held == Some((spec, row.state.as_str())) {
            return;
        }
        match (spec, row.state.as_str()) {
            (Some(spec), "active") => engine.insert(spec),
            (Some(spec), "paused") => {
                engine.insert(spec);
                engine.pause(spec.id, true);
            }
            _ => engine.remove(row.id as u64),
        }
    }

    /// Loads every live alert (retrying until the store answers or `shutdown`), then writes
    /// what fires until `shutdown`; every `purge_every`, inbox entries older than the retention
    /// go.
    pub async fn run(self: Arc<Self>, purge_every: Duration, shutdown: CancellationToken) {
        let Some(mut queue) = self.queue.lock().unwrap_or_else(|e| e.into_inner()).take() else {
            return;
        };
        let (mut after, mut loaded) = (0, 0);
        loop {
            match self.accounts.store().live_alerts(after, LOAD_PAGE).await {
                Ok(rows) => {
                    for row in &rows {
                        self.arm(row);
                    }
                    loaded += rows.len();
                    after = rows.last().map_or(after, |r| r.id);
                    if rows.len() < LOAD_PAGE as usize {
                        tracing::info!(alerts = loaded, "alerts loaded");
                        break;
                    }
                    continue;
                }
                Err(err) => tracing::warn!(error = %err, "cannot load the alerts yet; trying again"),
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(RETRY) => {}
            }
        }
        // Alerts changed through other nodes (the bus tells): read again from the store.
        let (tell, mut changed) = mpsc::channel(CHANGES);
        self.accounts.follow_alert_changes(tell);
        let mut purge = tokio::time::interval(purge_every);
        purge.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let job = tokio::select! {
                () = shutdown.cancelled() => return,
                Some(id) = changed.recv() => {
                    match self.accounts.store().alert_by_id(id).await {
                        Ok(Some(row)) => self.arm(&row),
                        Ok(None) => self.engine().remove(id as u64),
                        Err(err) => tracing::warn!(error = %err, alert = id, "cannot read a changed alert"),
                    }
                    continue;
                }
                _ = purge.tick() => {
                    let before = chrono::Utc::now().timestamp_millis() - self.retention.as_millis() as i64;
                    if let Err(err) = self.accounts.store().purge_inbox(before).await {
                        tracing::warn!(error = %err, "could not purge old notifications");
                    }
                    continue;
                }
                job = queue.recv() => match job {
                    Some(job) => job,
                    None => return,
                },
            };
            // A store that fails holds the job: tried again until it is written or shutdown.
            while let Err(err) = self.write(&job).await {
                tracing::warn!(error = %err, "could not record an alert's firing; trying again");
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(RETRY) => {}
                }
            }
        }
    }

    async fn write(&self, job: &Job) -> Result<(), StoreError> {
        let store = self.accounts.store();
        match job {
            Job::End { alert_id, state } => store.end_alert(*alert_id, state).await,
            Job::Fire(firing) => {
                if let Some(recorded) = store.record_firing(firing).await? {
                    for entry in &recorded.entries {
                        let data = serde_json::to_string(&notification_of(entry)).unwrap_or_default();
                        self.accounts.publish_event(
                            recorded.user_id,
                            PrivateEvent {
                                seq: entry.id as u64,
                                kind: EVENT_NOTIFICATION,
                                data: data.into(),
                            },
                        );
                    }
                }
                Ok(())
            }
        }
    }

    /// The frame's outcomes, queued for the writer (a firing that ends its alert carries the
    /// end; a full queue drops, counted).
    fn queue(&self, outcomes: &[Outcome]) {
        for (n, outcome) in outcomes.iter().enumerate() {
            let job = match *outcome {
                Outcome::Fired {
                    id,
                    price,
                    prev,
                    seq,
                    ts,
                    ..
                } => {
                    let ends_in = match outcomes.get(n + 1) {
                        Some(Outcome::Ended { id: ended, state, .. }) if *ended == id => Some(state_name(*state)),
                        _ => None,
                    };
                    Job::Fire(Firing {
                        alert_id: id as i64,
                        price,
                        prev,
                        seq: seq as i64,
                        ts,
                        ends_in,
                    })
                }
                // Ends that follow their firing travel with it.
                Outcome::Ended { id, .. }
                    if n > 0 && matches!(outcomes[n - 1], Outcome::Fired { id: fired, .. } if fired == id) =>
                {
                    continue;
                }
                Outcome::Ended { id, state, .. } => Job::End {
                    alert_id: id as i64,
                    state: state_name(state),
                },
            };
            if self.jobs.try_send(job).is_err() {
                self.dropped.inc();
                tracing::warn!("the alerts' queue to the store is full: a firing is dropped");
            }
        }
    }

    fn creation_allowed(&self, user: i64) -> Result<(), AccountError> {
        let now = Instant::now();
        let mut creations = self.creations.lock().unwrap_or_else(|e| e.into_inner());
        if creations.len() >= THROTTLE_USERS && !creations.contains_key(&user) {
            creations.clear();
        }
        let times = creations.entry(user).or_default();
        while times.front().is_some_and(|t| now.duration_since(*t) >= CREATION_WINDOW) {
            times.pop_front();
        }
        if times.len() >= CREATIONS_PER_MINUTE {
            let wait = CREATION_WINDOW.saturating_sub(now.duration_since(times[0]));
            return Err(AccountError::TooMany(
                format!("at most {CREATIONS_PER_MINUTE} new alerts a minute"),
                wait,
            ));
        }
        times.push_back(now);
        Ok(())
    }

    fn alert_of(&self, row: &AlertRow) -> Alert {
        Alert {
            id: row.id as u64,
            symbol: row.symbol.clone(),
            condition: row.condition.clone(),
            price: row.price,
            low: row.low,
            high: row.high,
            pct: row.pct_bp.map(|bp| bp as f64 / 100.0),
            bars: row.bars.map(|b| b.clamp(0, u32::MAX as i64) as u32),
            frequency: row.frequency.clone(),
            interval: row.interval.clone(),
            expires: row.expires.map(rfc3339),
            note: row.note.clone(),
            state: row.state.clone(),
            last_fired: row.last_fired.map(rfc3339),
            fire_count: row.fire_count.max(0) as u64,
        }
    }

    /// `POST /api/alerts`.
    pub async fn create(&self, user: &User, new: NewAlert) -> Result<Alert, AccountError> {
        let mut row = AlertRow {
            id: 0,
            user_id: user.id,
            symbol: new.symbol,
            condition: new.condition,
            price: new.price,
            low: new.low,
            high: new.high,
            pct_bp: new.pct.map(basis_points).transpose()?,
            bars: new.bars.map(i64::from),
            frequency: new.frequency,
            interval: new.interval,
            expires: None,
            note: new.note.unwrap_or_default(),
            state: "active".into(),
            last_fired: None,
            fire_count: 0,
        };
        row.expires = new.expires.as_deref().map(parse_time).transpose()?;
        self.check(&row)?;
        self.creation_allowed(user.id)?;
        let now = chrono::Utc::now().timestamp_millis();
        match self.accounts.store().create_alert(&row, now, self.max_per_user).await? {
            Saved::Done(row) => {
                self.arm(&row);
                self.accounts.alert_changed(row.id);
                Ok(self.alert_of(&row))
            }
            Saved::TooMany => Err(self.too_many()),
            Saved::NotFound => Err(not_found()),
        }
    }

    fn too_many(&self) -> AccountError {
        AccountError::TooMany(
            format!(
                "at most {} active alerts (MAX_ALERTS_PER_USER); pause or delete one first",
                self.max_per_user
            ),
            Duration::from_secs(60),
        )
    }

    /// `GET /api/alerts`.
    pub async fn list(&self, user: &User) -> Result<Vec<Alert>, AccountError> {
        let rows = self.accounts.store().alerts_of(user.id).await?;
        Ok(rows.iter().map(|r| self.alert_of(r)).collect())
    }

    /// `PATCH /api/alerts/{id}`.
    pub async fn patch(&self, user: &User, id: u64, patch: AlertPatch) -> Result<Alert, AccountError> {
        let store = self.accounts.store();
        let mut row = store.alert(user.id, id as i64).await?.ok_or_else(not_found)?;
        if let Some(price) = patch.price {
            row.price = Some(price);
        }
        if let Some(low) = patch.low {
            row.low = Some(low);
        }
        if let Some(high) = patch.high {
            row.high = Some(high);
        }
        if let Some(pct) = patch.pct {
            row.pct_bp = Some(basis_points(pct)?);
        }
        if let Some(bars) = patch.bars {
            row.bars = Some(i64::from(bars));
        }
        if let Some(frequency) = patch.frequency {
            row.frequency = frequency;
        }
        if let Some(interval) = patch.interval {
            row.interval = Some(interval).filter(|i| !i.is_empty());
        }
        if let Some(expires) = patch.expires {
            row.expires = match expires.as_str() {
                "" => None,
                text => Some(parse_time(text)?),
            };
        }
        if let Some(note) = patch.note {
            row.note = note;
        }
        match patch.state.as_deref() {
            None => {}
            Some(state @ ("paused" | "active")) => row.state = state.to_string(),
            Some(other) => {
                return Err(AccountError::Invalid(format!(
                    "state must be \"paused\" or \"active\", not {other:?}"
                )));
            }
        }
        self.check(&row)?;
        match store.update_alert(&row, self.max_per_user).await? {
            Saved::Done(row) => {
                self.arm(&row);
                self.accounts.alert_changed(row.id);
                Ok(self.alert_of(&row))
            }
            Saved::TooMany => Err(self.too_many()),
            Saved::NotFound => Err(not_found()),
        }
    }

    /// `DELETE /api/alerts/{id}`.
    pub async fn delete(&self, user: &User, id: u64) -> Result<(), AccountError> {
        if !self.accounts.store().delete_alert(user.id, id as i64).await? {
            return Err(not_found());
        }
        self.engine().remove(id);
        self.accounts.alert_changed(id as i64);
        Ok(())
    }

    /// `GET /api/notifications?after=&limit=`.
    pub async fn notifications(&self, user: &User, after: u64, limit: u32) -> Result<Vec<Notification>, AccountError> {
        let rows = self
            .accounts
            .store()
            .inbox(user.id, after.min(i64::MAX as u64) as i64, i64::from(limit))
            .await?;
        Ok(rows.iter().map(notification_of).collect())
    }

    pub async fn unread(&self, user: &User) -> Result<u64, AccountError> {
        Ok(self.accounts.store().unread(user.id).await?.max(0) as u64)
    }

    /// `POST /api/notifications/read`: marks them, and tells every stream of the user.
    pub async fn mark_read(&self, user: &User, up_to: Option<u64>, ids: Vec<u64>) -> Result<ReadMark, AccountError> {
        if up_to.is_none() && ids.is_empty() {
            return Err(AccountError::Invalid(
                "say which: {\"up_to\": id} or {\"ids\": [..]}".into(),
            ));
        }
        if ids.len() > 500 {
            return Err(AccountError::Invalid("at most 500 ids at a time".into()));
        }
        let as_i64 = |id: u64| id.min(i64::MAX as u64) as i64;
        let list: Vec<i64> = ids.iter().copied().map(as_i64).collect();
        let (rev, unread) = self
            .accounts
            .store()
            .mark_read(user.id, up_to.map(as_i64), &list)
            .await?;
        let mark = ReadMark {
            up_to,
            ids: (!ids.is_empty()).then_some(ids),
            unread: unread.max(0) as u64,
        };
        let data = serde_json::to_string(&mark).unwrap_or_default();
        self.accounts.publish_event(
            user.id,
            PrivateEvent {
                seq: rev as u64,
                kind: EVENT_READ,
                data: data.into(),
            },
        );
        Ok(mark)
    }

    /// The rules an alert must keep (the message says which it breaks).
    fn check(&self, row: &AlertRow) -> Result<(), AccountError> {
        let invalid = |why: String| Err(AccountError::Invalid(why));
        let Some(instrument) = self.instruments.iter().find(|i| i.symbol == row.symbol) else {
            return invalid(format!(
                "unknown symbol {:?}",
                row.symbol.chars().take(32).collect::<String>()
            ));
        };
        let on_grid = |name: &str, p: Option<i64>| -> Result<(), AccountError> {
            match p {
                Some(p) if p > 0 && p % instrument.tick.max(1) == 0 => Ok(()),
                Some(p) => Err(AccountError::Invalid(format!(
                    "{name} {p} is not a positive multiple of {}'s tick ({}, in price units of 10^-{})",
                    instrument.symbol, instrument.tick, instrument.decimals
                ))),
                None => Err(AccountError::Invalid(format!("{} needs {name}", row.condition))),
            }
        };
        match row.condition.as_str() {
            "crossing" | "crossing_up" | "crossing_down" | "greater_than" | "less_than" => {
                on_grid("price", row.price)?;
                if row.low.is_some() || row.high.is_some() {
                    return invalid(format!("{} takes price, not low and high", row.condition));
                }
            }
            "entering_channel" | "exiting_channel" => {
                on_grid("low", row.low)?;
                on_grid("high", row.high)?;
                if row.low >= row.high {
                    return invalid("low must be below high".into());
                }
                if row.price.is_some() {
                    return invalid(format!("{} takes low and high, not price", row.condition));
                }
            }
            "moving_up_pct" | "moving_down_pct" => {
                if !row.pct_bp.is_some_and(|bp| (1..=100_000).contains(&bp)) {
                    return invalid(format!("{} needs pct, from 0.01 to 1000", row.condition));
                }
                if !row.bars.is_some_and(|b| (1..=i64::from(MAX_BARS)).contains(&b)) {
                    return invalid(format!("{} needs bars, from 1 to {MAX_BARS}", row.condition));
                }
                if row.interval.as_deref().is_none_or(|i| i.parse::<Interval>().is_err()) {
                    return invalid(format!(
                        "{} needs an interval: 1s, 5s, 1m, 5m, 15m or 1h",
                        row.condition
                    ));
                }
                if row.price.is_some() || row.low.is_some() || row.high.is_some() {
                    return invalid(format!("{} takes pct, bars and interval, not a price", row.condition));
                }
                if row.frequency == "once_per_bar_close" {
                    return invalid("a moving condition is evaluated at every trade: not once_per_bar_close".into());
                }
            }
            other => {
                return invalid(format!(
                    "condition must be one of {}, not {:?}",
                    CONDITIONS.join(", "),
                    other.chars().take(32).collect::<String>()
                ));
            }
        }
        let moving = row.condition.starts_with("moving_");
        if !moving && (row.pct_bp.is_some() || row.bars.is_some()) {
            return invalid("pct and bars go only with moving_up_pct and moving_down_pct".into());
        }
        match (row.frequency.as_str(), row.interval.as_deref()) {
            ("once" | "once_per_minute" | "every_time", None) => {}
            ("once" | "once_per_minute" | "every_time", Some(_)) if moving => {}
            ("once_per_bar" | "once_per_bar_close", Some(interval)) if interval.parse::<Interval>().is_ok() => {}
            (bar @ ("once_per_bar" | "once_per_bar_close"), _) => {
                return invalid(format!("{bar} needs an interval: 1s, 5s, 1m, 5m, 15m or 1h"));
            }
            ("once" | "once_per_minute" | "every_time", Some(_)) => {
                return invalid(
                    "interval goes only with once_per_bar, once_per_bar_close or a moving condition".into(),
                );
            }
            (other, _) => {
                return invalid(format!(
                    "frequency must be one of {}, not {:?}",
                    FREQUENCIES.join(", "),
                    other.chars().take(32).collect::<String>()
                ));
            }
        }
        if row.note.chars().count() > MAX_NOTE {
            return invalid(format!("a note has at most {MAX_NOTE} characters"));
        }
        Ok(())
    }
}

/// A percentage as basis points: a positive number with at most two decimals.
fn basis_points(pct: f64) -> Result<i64, AccountError> {
    let bp = (pct * 100.0).round();
    if !(pct.is_finite() && (pct * 100.0 - bp).abs() < 1e-6 && (1.0..=100_000.0).contains(&bp)) {
        return Err(AccountError::Invalid(
            "pct must be a percentage from 0.01 to 1000, with at most two decimals".into(),
        ));
    }
    Ok(bp as i64)
}

fn not_found() -> AccountError {
    AccountError::NotFound("no such alert".into())
}

fn parse_time(text: &str) -> Result<i64, AccountError> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp_millis())
        .map_err(|_| AccountError::Invalid("expires must be an RFC 3339 time, like 2026-12-31T23:59:00Z".into()))
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn state_name(state: State) -> &'static str {
    match state {
        State::Active => "active",
        State::Paused => "paused",
        State::Triggered => "triggered",
        State::Expired => "expired",
        State::Stopped => "stopped",
    }
}

/// The engine's view of a stored alert; `None` if it does not parse (nothing the API lets in).
fn spec_of(row: &AlertRow, symbol: usize) -> Option<Spec> {
    let condition = match (row.condition.as_str(), row.price, row.low, row.high) {
        ("crossing", Some(p), ..) => Condition::Crossing(p),
        ("crossing_up", Some(p), ..) => Condition::CrossingUp(p),
        ("crossing_down", Some(p), ..) => Condition::CrossingDown(p),
        ("greater_than", Some(p), ..) => Condition::GreaterThan(p),
        ("less_than", Some(p), ..) => Condition::LessThan(p),
        ("entering_channel", _, Some(low), Some(high)) => Condition::EnteringChannel { low, high },
        ("exiting_channel", _, Some(low), Some(high)) => Condition::ExitingChannel { low, high },
        (moving @ ("moving_up_pct" | "moving_down_pct"), ..) => {
            let (bp, bars) = (row.pct_bp?, u32::try_from(row.bars?).ok()?);
            let interval_ms = row.interval.as_deref()?.parse::<Interval>().ok()?.millis();
            match moving {
                "moving_up_pct" => Condition::MovingUp { bp, bars, interval_ms },
                _ => Condition::MovingDown { bp, bars, interval_ms },
            }
        }
        _ => return None,
    };
    let frequency = match row.frequency.as_str() {
        "once" => Frequency::Once,
        "once_per_minute" => Frequency::OncePerMinute,
        "every_time" => Frequency::EveryTime,
        "once_per_bar" => Frequency::OncePerBar {
            interval_ms: row.interval.as_deref()?.parse::<Interval>().ok()?.millis(),
        },
        "once_per_bar_close" => Frequency::OncePerBarClose {
            interval_ms: row.interval.as_deref()?.parse::<Interval>().ok()?.millis(),
        },
        _ => return None,
    };
    Some(Spec {
        id: row.id as u64,
        owner: row.user_id,
        symbol,
        condition,
        frequency,
        expires: row.expires,
    })
}

fn notification_of(row: &InboxRow) -> Notification {
    Notification {
        id: row.id as u64,
        alert: row.alert_id as u64,
        kind: row.kind.clone(),
        symbol: row.symbol.clone(),
        condition: row.condition.clone(),
        price: row.price,
        prev: row.prev,
        seq: row.seq.max(0) as u64,
        ts: row.ts,
        note: row.note.clone(),
        read: row.read,
    }
}

/// Where the generator's frames go, with the alerts evaluated on each (see the module's docs).
pub struct Alerting<P> {
    inner: P,
    desk: Arc<AlertDesk>,
    /// Each instrument's last price (of its latest trade).
    last: Vec<i64>,
    prices: Vec<(usize, i64)>,
    outcomes: Vec<Outcome>,
}

impl<P: Publish> Alerting<P> {
    /// `inner` with alerts from `desk`; `last` holds each instrument's price now.
    pub fn new(inner: P, desk: Arc<AlertDesk>, last: Vec<i64>) -> Self {
        Alerting {
            inner,
            desk,
            last,
            prices: Vec::new(),
            outcomes: Vec::new(),
        }
    }
}

impl<P: Publish> Publish for Alerting<P> {
    fn publish(&mut self, ts: i64, trades: Vec<Trade>) -> u64 {
        self.prices.clear();
        self.prices.extend(trades.iter().map(|t| (t.index, t.quote.price)));
        let seq = self.inner.publish(ts, trades);
        self.outcomes.clear();
        {
            let mut engine = self.desk.engine();
            engine.tick(ts, &mut self.outcomes);
            if !engine.is_empty() {
                for &(index, price) in &self.prices {
                    if let Some(prev) = self.last.get(index).copied() {
                        engine.on_trade(index, prev, price, seq, ts, &mut self.outcomes);
                    }
                }
            }
        }
        for &(index, price) in &self.prices {
            if let Some(last) = self.last.get_mut(index) {
                *last = price;
            }
        }
        if !self.outcomes.is_empty() {
            self.desk.queue(&self.outcomes);
        }
        seq
    }
}
