//! Renders the hardware back ends' templates into file text.
//!
//! Contract: a rendered file is the template's output and one newline (askama drops a
//! template file's final newline).

/// Counts the bytes written to it.
struct Count(usize);

impl std::fmt::Write for Count {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0 += s.len();
        Ok(())
    }
}

/// Renders `t` and a newline.
pub fn render(t: &dyn askama::DynTemplate) -> Result<String, askama::Error> {
    let mut s = t.dyn_render()?;
    s.push('\n');
    Ok(s)
}

/// [`render`] into a string of exactly its size, measured by a first rendering that keeps
/// nothing: for files that are mostly a large network's weight tables (HLS C++), where a
/// growing string would hold up to twice the file.
pub fn render_sized(t: &dyn askama::DynTemplate) -> Result<String, askama::Error> {
    let mut n = Count(0);
    t.dyn_render_into(&mut n)?;
    let mut s = String::with_capacity(n.0 + 1);
    t.dyn_render_into(&mut s)?;
    s.push('\n');
    Ok(s)
}
