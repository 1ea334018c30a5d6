//! What the view's builders share: the large-RAM placement of a weight ROM ([`SpramView`]),
//! which [`super::rom`] computes and numbers for the weight-load port and a projection's view
//! holds. It defines these items only and calls none of the builders, so the projection's
//! view types import it without importing [`super::rom`], which reads the layers' views
//! (issue 53: no import cycles between files).

/// A weight ROM placed in large RAM (iCE40 SPRAM), filled through the weight-load port.
pub struct SpramView {
    /// Index among the design's large-RAM ROMs (load order).
    pub idx: usize,
    /// ROM file whose words the load image holds (removed from the ROM files).
    pub file: String,
    /// Logical word width.
    pub width: usize,
    /// Layout on the blocks.
    pub slot: usize,
    /// log2 of the logical words per block word.
    pub pw_log: usize,
    /// Blocks side by side.
    pub cols: usize,
    /// Blocks one below the other.
    pub rows: usize,
    /// Block words used.
    pub words: usize,
    /// Widths of the row index, column index and block word index.
    pub rw: usize,
    /// Column index width.
    pub cw: usize,
    /// Block word index width.
    pub ww: usize,
}
