//! Price alerts and notifications, as they travel (issue 26). The server evaluates a user's
//! alerts at every market frame; each firing is an entry of the user's inbox, pushed at once as a
//! `notification` event on every stream of the user (data: a [`Notification`]), and marking
//! entries read is a `read` event (data: a [`ReadMark`]) so every tab agrees on what is unread.
//!
//! Prices are integers in the instrument's price units, exactly as quotes carry them.

use serde::{Deserialize, Serialize};

/// The event that carries one new inbox entry.
pub const EVENT_NOTIFICATION: &str = "notification";
/// The event that says which entries were marked read.
pub const EVENT_READ: &str = "read";

/// The conditions an alert can watch in its symbol's last price.
pub const CONDITIONS: [&str; 9] = [
    "crossing",
    "crossing_up",
    "crossing_down",
    "greater_than",
    "less_than",
    "entering_channel",
    "exiting_channel",
    "moving_up_pct",
    "moving_down_pct",
];

/// How often an alert may fire.
pub const FREQUENCIES: [&str; 5] = [
    "once",
    "once_per_bar",
    "once_per_bar_close",
    "once_per_minute",
    "every_time",
];

/// An alert's states.
pub const STATES: [&str; 5] = ["active", "paused", "triggered", "expired", "stopped"];

/// An alert, as `/api/alerts` shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, miniserde::Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Alert {
    pub id: u64,
    pub symbol: String,
    /// One of [`CONDITIONS`].
    pub condition: String,
    /// The level of `crossing*`, `greater_than` and `less_than`.
    pub price: Option<i64>,
    /// The channel of `entering_channel` and `exiting_channel`, inclusive.
    pub low: Option<i64>,
    pub high: Option<i64>,
    /// The move of `moving_up_pct` and `moving_down_pct`, in percent (hundredths at most), from
    /// the close `bars` candles of `interval` before the one forming.
    pub pct: Option<f64>,
    pub bars: Option<u32>,
    /// One of [`FREQUENCIES`].
    pub frequency: String,
    /// The candles of a moving condition, `once_per_bar` and `once_per_bar_close`: `1s`, `5s`,
    /// `1m`, `5m`, `15m` or `1h`.
    pub interval: Option<String>,
    /// When the alert ends (RFC 3339).
    pub expires: Option<String>,
    pub note: String,
    /// One of [`STATES`].
    pub state: String,
    /// When it last fired (RFC 3339).
    pub last_fired: Option<String>,
    pub fire_count: u64,
}

/// `POST /api/alerts`: a new alert.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct NewAlert {
    pub symbol: String,
    pub condition: String,
    pub price: Option<i64>,
    pub low: Option<i64>,
    pub high: Option<i64>,
    pub pct: Option<f64>,
    pub bars: Option<u32>,
    pub frequency: String,
    pub interval: Option<String>,
    pub expires: Option<String>,
    pub note: Option<String>,
}

/// `PATCH /api/alerts/{id}`: what changes (absent fields keep their value).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AlertPatch {
    pub price: Option<i64>,
    pub low: Option<i64>,
    pub high: Option<i64>,
    pub pct: Option<f64>,
    pub bars: Option<u32>,
    pub frequency: Option<String>,
    /// An empty string removes it.
    pub interval: Option<String>,
    /// RFC 3339; an empty string removes the expiry.
    pub expires: Option<String>,
    pub note: Option<String>,
    /// `paused` or `active` (resumes a paused alert; re-arms a triggered, expired or stopped one).
    pub state: Option<String>,
}

/// One inbox entry: the data of a `notification` event, and of `/api/notifications`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, miniserde::Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Notification {
    /// Increasing per user.
    pub id: u64,
    pub alert: u64,
    /// `fired`, or `stopped` (the alert fired too often and was stopped).
    pub kind: String,
    pub symbol: String,
    pub condition: String,
    /// The prices of the trade that fired it and of the trade before.
    pub price: i64,
    pub prev: i64,
    /// The market frame.
    pub seq: u64,
    /// The frame's time, ms since 1970.
    pub ts: i64,
    pub note: String,
    pub read: bool,
}

/// The data of a `read` event: entries up to `up_to`, or those in `ids`, are read now; `unread`
/// is how many are left.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, miniserde::Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ReadMark {
    pub up_to: Option<u64>,
    pub ids: Option<Vec<u64>>,
    pub unread: u64,
}

/// `POST /api/notifications/read`: `{"up_to": id}` (everything up to it) or `{"ids": [..]}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MarkRead {
    pub up_to: Option<u64>,
    pub ids: Option<Vec<u64>>,
}
