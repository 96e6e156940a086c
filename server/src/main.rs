#![recursion_limit = "512"]

//! `server` runs the shop; `server migrate` and `server seed` prepare a database and exit.

// Page rendering allocates many small strings; mimalloc handles that far better than glibc.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use app::config::Config;
use server::http::router;
use server::{cli, startup, tasks, telemetry};
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(&config);
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        None | Some("serve") => serve(config).await,
        Some("migrate") => startup::connect_db(&config).await.map(|_| ()).map_err(|e| e.to_string()),
        Some("recs") => cli::recs(config, &args[1..]).await,
        Some("admin") => cli::admin(config, &args[1..]).await,
        Some("catalog") => cli::catalog(config, &args[1..]).await,
        Some("help") | Some("--help") | Some("-h") => {
            println!("{}", cli::USAGE);
            Ok(())
        }
        Some(other) => Err(format!("unknown command {other:?}; try `server help`")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> Result<(), String> {
    let addr = config.addr;
    let grace = config.shutdown_grace;
    let state = startup::build_state(config).await.map_err(|e| e.to_string())?;
    let app = router::build(state.clone()).map_err(|e| e.to_string())?;
    tasks::spawn_housekeeping(state.clone());
    tasks::spawn_recommendations(state.clone());
    tasks::spawn_flag_reload(state.clone());
    tasks::warm_catalog(&state).await;
    tasks::spawn_catalog_follow(state.clone());
    tasks::spawn_repairs(state.clone());
    if let Some(metrics_addr) = state.config.metrics_addr {
        let listener = tokio::net::TcpListener::bind(metrics_addr)
            .await
            .map_err(|e| format!("cannot listen on METRICS_ADDR {metrics_addr}: {e}"))?;
        tracing::info!("metrics on http://{metrics_addr}/metrics");
        let metrics_app = server::http::metrics::listener_router(state.clone());
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, metrics_app).await {
                tracing::error!(error = %e, "the metrics listener stopped");
            }
        });
    }
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    tracing::info!("listening on http://{addr}");
    axum::serve(router::no_delay(listener), app.into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown({
            let sync = state.cart_sync.clone();
            async move {
                shutdown_signal(grace).await;
                sync.close();
            }
        })
        .await
        .map_err(|e| e.to_string())?;
    // Requests are done; write the signals still queued, and (write-behind) every cart SQL does
    // not have yet, so a deploy loses nothing even if Redis goes next.
    state.events.flush().await;
    tasks::flush_carts(&state).await;
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on SIGINT or SIGTERM; after that, in-flight requests get `grace` to finish.
async fn shutdown_signal(grace: std::time::Duration) {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!(grace_secs = grace.as_secs(), "shutting down: finishing in-flight requests");
    // Hard stop if draining takes longer than the grace period.
    tokio::spawn(async move {
        tokio::time::sleep(grace).await;
        tracing::warn!("grace period over; exiting");
        std::process::exit(0);
    });
}
