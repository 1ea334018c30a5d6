//! `spikefab convert`: write the model as spikefab JSON (keeps the dialect) or NIR.

use std::path::PathBuf;

use clap::Args;
use spikefab::front::json;

use super::failure::Failure;
use super::model_args::ModelArgs;

#[derive(Args, Debug)]
pub struct ConvertArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Output file: .json (spikefab graph with its dialect) or .nir.
    #[arg(short, long)]
    output: PathBuf,
}

pub fn run(a: ConvertArgs) -> Result<(), Failure> {
    let m = a.model.load()?;
    let ext = a.output.extension().and_then(|e| e.to_str()).unwrap_or("");
    let bytes = match ext {
        "json" => json::to_string(&m.graph).into_bytes(),
        "nir" => spikefab::back::nir::to_bytes(&m.graph, &m.info).map_err(Failure::io)?,
        other => {
            return Err(Failure::input(anyhow::anyhow!(
                "cannot write '.{other}': convert writes .json (spikefab's graph form) or .nir"
            )));
        }
    };
    std::fs::write(&a.output, bytes)
        .map_err(|e| Failure::io(anyhow::anyhow!("{}: cannot write: {e}", a.output.display())))?;
    eprintln!("wrote {} ({})", a.output.display(), m.dialect().describe());
    Ok(())
}
