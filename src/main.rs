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
    // Keep freed heap memory in the process. Every engine run frees its results and the next
    // run allocates them again; glibc's defaults hand a heap's freed top back to the system
    // once it passes 128 KB and fault it back in page by page (about 17 minor faults per
    // 128-sample mlp_bw run in `cosim`'s engine timing, 0.1 with this). Blocks below
    // 32 MB (glibc's own cap for its adaptive mmap threshold) come from the heap, and up to
    // 64 MB of a heap's free top is kept.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 64 << 20);
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
