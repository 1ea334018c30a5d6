//! The `spikefab` command line: parse, call the library, render errors.
//!
//! Exit codes: 0 success, 1 a check failed (e.g. verification below its bound), 2 bad input
//! or usage.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {:#}", e.error);
            ExitCode::from(e.code)
        }
    }
}
