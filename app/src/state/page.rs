//! The first render's data: what the server computes for the requested URL and hands to the
//! page, so the server-rendered HTML and the hydrated page start from identical data.

use crate::state::candles::CandleSeries;
use crate::state::view::ViewState;
use crate::wire::protocol::{Candle, Interval};
use crate::wire::protocol::{History, Snapshot};
use serde::{Deserialize, Serialize};

/// Candles shown in the main chart; the first page and every backfill carry twice as many.
pub const VISIBLE_CANDLES: usize = 90;

/// Seconds of prices in a sparkline.
pub const SPARK_SECONDS: usize = 60;

/// Everything the first render needs, computed by the server for the requested URL and
/// serialised into the page, so hydration starts from identical data.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, miniserde::Deserialize)]
pub struct PageData {
    /// Every instrument and its latest quote (the picker offers all of them).
    pub snapshot: Snapshot,
    pub view: ViewState,
    /// Per instrument (snapshot order): the last minute as 1-second closes.
    pub sparks: Vec<Spark>,
    /// Backfill of the main chart's symbol and interval.
    pub chart: Option<History>,
    /// The server's SSE keep-alive period: silence for twice as long means `Stale`.
    pub keepalive_ms: u64,
}

/// A sparkline's data: closes of consecutive 1-second buckets ending at `t_last`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, miniserde::Deserialize)]
pub struct Spark {
    pub t_last: i64,
    /// In price units.
    pub closes: Vec<i64>,
}

impl Spark {
    pub fn from_candles(candles: &[Candle]) -> Self {
        Spark {
            t_last: candles.last().map_or(0, |c| c.t),
            closes: candles.iter().map(|c| c.close).collect(),
        }
    }

    pub fn series(&self) -> CandleSeries {
        let n = self.closes.len() as i64;
        let candles = self.closes.iter().enumerate().map(|(i, &p)| Candle {
            t: self.t_last - (n - 1 - i as i64) * 1_000,
            open: p,
            high: p,
            low: p,
            close: p,
            volume: 0,
        });
        CandleSeries::from_candles(Interval::S1, SPARK_SECONDS, candles)
    }
}
