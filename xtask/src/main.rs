//! Workspace automation.
//!
//! `cargo run -p xtask -- codegen [--models DIR]` reads botocore-format AWS
//! service models and writes the committed wire modules of `remedy-wire`
//! (`crates/remedy-wire/src/config.rs`, `crates/remedy-wire/src/ssm.rs`).
//! The models are only needed when regenerating, never at build or run time.

mod codegen;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn usage() -> ExitCode {
    eprintln!("usage: cargo run -p xtask -- codegen [--models DIR]");
    eprintln!("  DIR defaults to ../shared/aws-models relative to the workspace root");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(cmd) = args.next() else {
        return usage();
    };
    if cmd != "codegen" {
        return usage();
    }
    let root: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let mut models = root.join("../shared/aws-models");
    while let Some(a) = args.next() {
        match a.as_str() {
            "--models" => match args.next() {
                Some(d) => models = PathBuf::from(d),
                None => return usage(),
            },
            _ => return usage(),
        }
    }
    match codegen::run(&root, &models) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("codegen failed: {e}");
            ExitCode::FAILURE
        }
    }
}
