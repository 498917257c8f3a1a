//! The `remedy` binary: parses the command line and wires the layers together.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use remedy::app::{App, Settings};
use remedy::auth::StaticCredentials;
use remedy::cli::{Cli, Command, LogFormat, ServeArgs};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Version => {
            println!("remedy {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Command::Serve(args) => report(serve(args)),
        Command::Import(args) => report(remedy::import::run(&args).map(|n| {
            println!("imported {n} configuration items");
        })),
        Command::ResultToken(args) => report(remedy::result_token::run_cli(&args).map(|token| {
            println!("{token}");
        })),
    }
}

fn report(r: Result<(), String>) -> ExitCode {
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("remedy: {e}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(args: &ServeArgs) -> Result<(), String> {
    let filter = EnvFilter::try_new(&args.log).map_err(|e| format!("invalid --log filter: {e}"))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    match args.log_format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .init(),
        LogFormat::Text => builder.init(),
    }
    Ok(())
}

fn serve(args: ServeArgs) -> Result<(), String> {
    init_logging(&args)?;
    std::panic::set_hook(Box::new(|info| {
        tracing::error!(version = env!("CARGO_PKG_VERSION"), panic = %info, "panic");
    }));
    let credentials = match &args.credentials {
        Some(path) => StaticCredentials::from_file(path)?,
        None => StaticCredentials::local_default(),
    };
    let database = args.storage.database()?;
    let lambda_handlers = match &args.lambda_handlers {
        Some(path) => remedy::evaluation::lambda::LambdaHandlers::from_file(path)?,
        None => Default::default(),
    };
    let mut settings = Settings {
        body_limit: args.max_body_bytes,
        max_clock_skew: Duration::from_secs(args.max_clock_skew_seconds),
        max_rules: args.max_rules,
        max_custom_resources: args.max_custom_resources,
        result_token_ttl: Duration::from_secs(args.result_token_ttl_seconds),
        evaluation_request_interval: Duration::from_secs(args.rule_evaluation_interval_seconds),
        lambda_handlers,
        handler_endpoint: None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(async move {
        let store = args.storage.open_store().await?;
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        settings.handler_endpoint = Some(remedy::evaluation::lambda::endpoint_of(addr));
        let app = Arc::new(App::new(store, Arc::new(credentials), settings));
        tracing::info!(%addr, store = %database, "remedy listening");
        let engine = remedy::evaluation::engine::start(app.clone());
        let remediation = remedy::remediation::engine::start(app.clone());
        let served = remedy::server::run(listener, app, remedy::server::shutdown_signal()).await;
        // The batch in hand finishes; queued evaluations stay queued for the next start.
        if tokio::time::timeout(Duration::from_secs(10), engine.stop())
            .await
            .is_err()
        {
            tracing::warn!("the evaluation engine did not stop within 10 s");
        }
        // Running steps finish and commit; leases are released; queued executions stay queued.
        if tokio::time::timeout(Duration::from_secs(10), remediation.stop())
            .await
            .is_err()
        {
            tracing::warn!("the remediation engine did not stop within 10 s");
        }
        served.map_err(|e| format!("server error: {e}"))?;
        tracing::info!("stopped");
        Ok(())
    })
}
