//! The network edge: accepting connections ([`conn`]: a connection whose first request opens the
//! SSE stream is served on its own socket, every other goes to hyper) and serving the router
//! until shutdown, with a bounded drain.

pub mod conn;

use crate::transport::Transports;
use axum::Router;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// How long shutdown waits for connections to finish after every stream has ended.
pub const DRAIN: Duration = Duration::from_millis(800);

/// Serves `app` until `shutdown` is cancelled, then drains for at most [`DRAIN`]. With
/// `streams`, a connection that opens the SSE stream first is served on its own (see [`conn`]);
/// pass the transports the router was built with.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    streams: Option<Transports>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let listener = conn::Listener::new(listener, streams);
    let server = axum::serve(listener, app).with_graceful_shutdown(shutdown.clone().cancelled_owned());
    let deadline = async {
        shutdown.cancelled().await;
        tokio::time::sleep(DRAIN).await;
    };
    tokio::select! {
        result = std::future::IntoFuture::into_future(server) => result,
        () = deadline => {
            tracing::warn!("drain deadline passed; closing the remaining connections");
            Ok(())
        }
    }
}
