//! What a signed-in user owns, as it travels: their named watchlists and last view. The server
//! answers `/api/me` with an [`Account`], renders the first page with it, and pushes it whole as
//! the data of every `account` event on the user's streams (so an event is never a diff: the
//! latest one is the truth, and a client that missed some needs only the newest).

use serde::{Deserialize, Serialize};

/// Name of the event that carries a signed-in user's [`AccountState`] on their own streams.
pub const EVENT_ACCOUNT: &str = "account";

/// A named watchlist: symbols of the universe, in the user's order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, miniserde::Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Watchlist {
    pub name: String,
    pub symbols: Vec<String>,
}

/// The last view a user left: what the chart shows and how the page is set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, miniserde::Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SavedView {
    /// The chart's symbol (`null`: the first watched one).
    pub symbol: Option<String>,
    /// `1s`, `5s`, `1m`, `5m`, `15m` or `1h`.
    pub interval: String,
    /// `candles` or `line`.
    pub mode: String,
    /// Whether the depth panel shows.
    pub depth: bool,
    /// `light`, `dark` or `system`.
    pub theme: String,
    /// `sse`, `ws` or `poll`.
    pub transport: String,
}

/// A user's state: the data of an `account` event, and of `/api/me` with the username.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, miniserde::Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AccountState {
    pub watchlists: Vec<Watchlist>,
    pub view: Option<SavedView>,
}

/// Who is signed in and what they own: `GET /api/me`, and the first page of a signed-in user.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, miniserde::Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Account {
    pub username: String,
    pub watchlists: Vec<Watchlist>,
    pub view: Option<SavedView>,
    /// Notifications in the inbox not yet read.
    pub unread: u64,
}
