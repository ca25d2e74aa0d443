//! What the page knows, independent of how it is drawn: candle aggregation ([`candles`]), the
//! view in the URL ([`view`]), the first render's data ([`page`]), the order book and tape the
//! page keeps ([`depth`]), the live model of the dashboard as signals ([`board`]) and how often a
//! part of it is redrawn ([`throttle`]). The server uses the first three to render the first page;
//! the browser's feed ([`crate::live`]) writes the board and the UI ([`crate::ui`]) reads it.

pub mod account;
pub mod alerts;
pub mod board;
pub mod candles;
pub mod depth;
pub mod indicators;
pub mod page;
pub mod throttle;
pub mod view;
pub mod viewport;
pub mod wants;
