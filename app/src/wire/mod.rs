//! What travels between the server and the page, and how the page reads it: the protocol's
//! types ([`protocol`]), the strict JSON reader the page decodes them with ([`json`]; the server
//! writes them with serde), and the SSE parser of the browser's stream reader ([`sse`]).
//! Nothing here knows about signals, the DOM or HTTP.

pub mod account;
pub mod alerts;
pub mod book;
pub mod json;
pub mod protocol;
pub mod sse;
