//! `spikefab convert`: write the model in spikefab's JSON form.

use std::path::PathBuf;

use clap::Args;
use spikefab::front::json;

use super::{Failure, ModelArgs};

#[derive(Args, Debug)]
pub struct ConvertArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Output file (.json).
    #[arg(short, long)]
    output: PathBuf,
}

pub fn run(a: ConvertArgs) -> Result<(), Failure> {
    let m = a.model.load()?;
    let ext = a.output.extension().and_then(|e| e.to_str()).unwrap_or("");
    let text = match ext {
        "json" => json::to_string(&m.graph),
        other => {
            return Err(Failure::input(anyhow::anyhow!(
                "cannot write '.{other}': convert writes .json (spikefab's graph form)"
            )));
        }
    };
    std::fs::write(&a.output, text)
        .map_err(|e| Failure::input(anyhow::anyhow!("{}: cannot write: {e}", a.output.display())))?;
    eprintln!("wrote {} ({})", a.output.display(), m.dialect().describe());
    Ok(())
}
