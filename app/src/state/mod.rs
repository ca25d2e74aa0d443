//! What the page knows, independent of how it is drawn: candle aggregation ([`candles`]), the
//! view in the URL ([`view`]), the first render's data ([`page`]), the order book and tape the
//! page keeps ([`depth`]) and the live model of the dashboard as signals ([`board`]). The server uses the first three to render the first page;
//! the browser's feed ([`crate::live`]) writes the board and the UI ([`crate::ui`]) reads it.

pub mod account;
pub mod alerts;
pub mod board;
pub mod candles;
pub mod depth;
pub mod indicators;
pub mod page;
pub mod view;
pub mod viewport;
pub mod wants;
