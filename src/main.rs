//! The `spikefab` command line: parse, call the library, render errors.
//!
//! Exit codes: 0 success, 1 a check failed (e.g. verification below its bound), 2 bad input
//! or usage.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // Die quietly on a closed pipe (`spikefab inspect m.nir | head`), like other CLI tools.
    #[cfg(unix)]
    // SAFETY: restoring the default SIGPIPE action before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Messages quote files and tool logs: keep a terminal's control sequences out.
            let msg = format!("{:#}", e.error);
            let safe: Vec<String> = msg.lines().map(|l| spikefab::names::text(l, 4000)).collect();
            eprintln!("error: {}", safe.join("\n"));
            ExitCode::from(e.code)
        }
    }
}
