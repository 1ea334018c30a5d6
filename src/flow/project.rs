//! The project files of a target's flow besides the Verilog (constraints, clock wrapper, build
//! scripts), chosen by the target's flow; the per-family files write them.

use super::{FlowError, ecp5, ice40, vivado};

/// The target flow's project files for `d` besides the Verilog: the clock wrapper when a PLL
/// makes the clock, constraints and build scripts (iCE40, ECP5) or the Vivado project (7
/// Series); none for other targets. A clock the board's PLL cannot make is refused here, before
/// anything is written.
pub fn project_files(
    d: &crate::back::verilog::Design,
    t: &crate::target::Target,
) -> Result<Vec<(String, String)>, FlowError> {
    use crate::target::Flow;
    let m = &d.module;
    let mut files = vec![];
    match t.flow() {
        Flow::OpenIce40 => {
            files.extend(ice40::clock_top(d, t)?);
            files.push((format!("{m}.pcf"), ice40::pcf(d, t)?));
            files.push((format!("{m}.ys"), ice40::yosys_script(d, t)));
            files.push(("build.sh".into(), ice40::build_script(d, t)));
        }
        Flow::OpenEcp5 => {
            files.extend(ecp5::clock_top(d, t)?);
            files.push((format!("{m}.lpf"), ecp5::lpf(d, t)?));
            files.push((format!("{m}.ys"), ecp5::yosys_script(d, t)));
            files.push(("build.sh".into(), ecp5::build_script(d, t)));
        }
        Flow::Vivado => {
            files.push(("vivado.tcl".into(), vivado::tcl(d, t)));
            files.push((format!("{m}.xdc"), vivado::xdc(d, t)));
        }
        Flow::None => {}
    }
    Ok(files)
}
