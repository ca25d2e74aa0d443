//! The `tickertape` binary: reads the configuration, starts the market and serves the app until
//! Ctrl-C or SIGTERM.

use clap::Parser;
use leptos::prelude::LeptosOptions;
use std::process::ExitCode;
use tickertape_server::accounts::Accounts;
use tickertape_server::config::Config;
use tickertape_server::net::{listen, serve};
use tickertape_server::node;
use tickertape_server::store::{Backend, Store};
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets the allocator's parameter; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
        libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD);
    }
    let config = match Config::try_parse() {
        Ok(config) => config,
        Err(err) => {
            // --help and --version print and exit 0; invalid settings print the reason and exit 2.
            let _ = err.print();
            return if err.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    if let Err(err) = config.check() {
        eprintln!("error: {err}");
        return ExitCode::from(2);
    }
    let leptos_options = match site_settings() {
        Ok(options) => options,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .init();

    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    // The store must be usable before anything is served: an unusable DATABASE_URL stops
    // start-up, like any other invalid setting.
    if config.market_bus.is_some() && config.database_url.backend() == Backend::Sqlite {
        eprintln!(
            "warning: DATABASE_URL is an SQLite file of this node's own: with MARKET_BUS, nodes share \
             the market but not the accounts; set DATABASE_URL=postgres://… on every node to share them"
        );
    }
    let accounts = match runtime.block_on(Store::connect(&config.database_url)) {
        Ok(store) => {
            let ttl = std::time::Duration::from_secs(config.session_ttl_hours * 3600);
            Accounts::new(store, ttl, config.cookie_secure)
        }
        Err(err) => {
            eprintln!("error: DATABASE_URL: {err}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(config, leptos_options, accounts)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

/// The site settings: Leptos.toml holds them when the binary runs on its own; LEPTOS_*
/// variables (set by cargo-leptos, or by hand) override it. Without the file, variables and
/// defaults.
fn site_settings() -> Result<LeptosOptions, String> {
    let leptos_file = std::path::Path::new("Leptos.toml").exists().then_some("Leptos.toml");
    leptos::prelude::get_configuration(leptos_file)
        .map(|c| c.leptos_options)
        .map_err(|e| {
            format!(
                "invalid site settings (Leptos.toml or LEPTOS_* variables, e.g. LEPTOS_SITE_ADDR=127.0.0.1:3000): {e}"
            )
        })
}

async fn run(config: Config, leptos_options: LeptosOptions, accounts: Accounts) -> Result<(), String> {
    let addr = leptos_options.site_addr;
    let open_files = raise_open_files_limit();
    let limits = config.limits(open_files);
    // The kernel silently caps the accept queue at net.core.somaxconn.
    let somaxconn = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok());
    let backlog = somaxconn.map_or(config.listen_backlog, |cap| config.listen_backlog.min(cap));
    tracing::info!(
        max_connections = limits.max_connections,
        per_address = limits.per_address.map_or("off".to_string(), |n| n.to_string()),
        header_timeout_s = limits.header_timeout.as_secs(),
        send_buffer_kb = limits.send_buffer / 1024,
        listen_backlog = backlog,
        open_files,
        "connection limits"
    );
    if backlog < config.listen_backlog {
        tracing::warn!(
            "LISTEN_BACKLOG={} is capped by the kernel at net.core.somaxconn={backlog}",
            config.listen_backlog
        );
    }

    let shutdown = CancellationToken::new();
    tokio::spawn(stop_on_signal(shutdown.clone()));
    tokio::spawn(return_freed_memory(shutdown.clone()));
    tokio::spawn(
        accounts
            .clone()
            .purge_expired_sessions(PURGE_SESSIONS_EVERY, shutdown.clone()),
    );
    let listener = listen(addr, config.listen_backlog)
        .map_err(|e| format!("cannot listen on {addr} (set LEPTOS_SITE_ADDR to another address): {e}"))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("cannot read the bound address: {e}"))?;

    // A node on a bus may wait for Redis and a generator before it can serve (an edge
    // backfills its history first); meanwhile the port answers 503 "joining" to everything,
    // so a health check sees a node starting, not a dead one.
    let (listener, joining) = if config.market_bus.is_some() {
        let (listener, placeholder) = share(listener).map_err(|e| format!("cannot share the listening socket: {e}"))?;
        let joining = shutdown.child_token();
        tracing::info!("listening on http://{addr} (answering 503 until the node has joined the market bus)");
        tokio::spawn(serve(
            placeholder,
            node::joining_router(config.role),
            None,
            limits,
            joining.clone(),
        ));
        (listener, Some(joining))
    } else {
        (listener, None)
    };
    let started = node::start(&config, &limits, leptos_options, Some(accounts), shutdown.clone()).await;
    if let Some(joining) = joining {
        joining.cancel();
    }
    let Some(node) = started else {
        tracing::info!("stopped before the node was ready");
        return Ok(());
    };
    tracing::info!("Tickertape ({}) is live at http://{addr}", config.role.name());
    let stopped = serve(listener, node.app, node.streams, limits, shutdown)
        .await
        .map_err(|e| format!("server failed: {e}"))?;
    tracing::debug!(?stopped, "served");
    if let Some(task) = node.failure.get() {
        // Crash-only: a supervisor (systemd, Kubernetes, a shell loop) starts a fresh node.
        return Err(format!("the {task} stopped, so the node did; restart it"));
    }
    tracing::info!("stopped");
    Ok(())
}

/// Raises the soft open-file limit to the hard one (every connection is a file) and returns it.
fn raise_open_files_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed to them.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 1024;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit = raised;
            }
        }
    }
    limit.rlim_cur
}

/// How often expired sessions are deleted from the store.
const PURGE_SESSIONS_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// Allocations from this size up are mapped on their own and unmapped when freed.
///
/// Why fixed: Argon2id's 19 MiB working block is allocated at every sign-in and sign-up, on a
/// blocking thread. glibc raises its (dynamic) mapping threshold to the size of a mapped block
/// that is freed, so from the second hash on these blocks came from the threads' arenas and
/// stayed there: 178 MB of RSS after 100 sign-ups (BENCHMARKS.md, "Signed-in streams"). A fixed
/// threshold keeps them mapped, given back the moment they are freed.
const MMAP_THRESHOLD: libc::c_int = 1 << 20;

/// Free memory a heap keeps at its top before handing it back to the kernel.
///
/// Why not glibc's default (128 KiB, fixed too once the mapping threshold is set): every SQLite
/// transaction of an account change allocates its statement journal and frees it at the end, so
/// a worker's heap grew at every change (`sysmalloc`, and page faults to fill the new pages) and
/// shrank again after it (`heap_trim`): about a sixth of what SQLite cost per change in `perf`
/// (BENCHMARKS.md, *Signed-in streams*). A few MiB kept per heap end the cycle.
const TRIM_THRESHOLD: libc::c_int = 4 << 20;

/// How often freed heap memory is handed back to the kernel.
const TRIM_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

/// Hands the heap's free pages back to the kernel every [`TRIM_EVERY`]. glibc's allocator keeps
/// what a departed client's connection freed in the arena of the thread that freed it, and
/// gives back only the top of the main heap by itself: without this, a server whose clients
/// came and went keeps the peak's RSS for good (the soak in BENCHMARKS.md: 10.8 MB idle, 20.5 MB
/// after its clients left). `malloc_trim` walks the arenas' free lists and releases whole free
/// pages; with tens of MB of heap it takes well under a millisecond (logged at debug).
async fn return_freed_memory(shutdown: CancellationToken) {
    let mut every = tokio::time::interval(TRIM_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    every.tick().await;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = every.tick() => {}
        }
        let started = std::time::Instant::now();
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        // SAFETY: malloc_trim only takes the allocator's own locks and touches free memory.
        let released = unsafe { libc::malloc_trim(0) } == 1;
        #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
        let released = false;
        tracing::debug!(released, took_us = started.elapsed().as_micros() as u64, "malloc_trim");
    }
}

/// Two listeners accepting on the same socket.
fn share(listener: tokio::net::TcpListener) -> std::io::Result<(tokio::net::TcpListener, tokio::net::TcpListener)> {
    let std = listener.into_std()?;
    let copy = std.try_clone()?;
    Ok((
        tokio::net::TcpListener::from_std(std)?,
        tokio::net::TcpListener::from_std(copy)?,
    ))
}

/// Cancels `shutdown` on Ctrl-C or SIGTERM.
async fn stop_on_signal(shutdown: CancellationToken) {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    tracing::info!("shutting down: ending every stream");
    shutdown.cancel();
}
