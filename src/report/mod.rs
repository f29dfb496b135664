//! Review output: progress and per-session plots (PNG and SVG) and exports (CSV, OpenSim `.sto`).
//!
//! Plots are built in two steps: a `*_data` function reads what will be drawn from the store into a
//! plain struct (tests compare it with the store), and [`render`] draws it with plotters to a PNG or
//! SVG file chosen by the extension. Text uses the DejaVu Sans font bundled in `assets/` (licence in
//! `assets/DejaVuSans-LICENSE.txt`), so no system font library is needed.

pub mod events;
pub mod export;
pub mod plots;

use crate::store::StoreError;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

/// Errors of the report layer; one line each, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Reading the store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An output file could not be written.
    #[error("{}: cannot write: {source}", path.display())]
    Io {
        /// Output file.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// Drawing failed.
    #[error("{}: cannot draw the plot: {message}", path.display())]
    Plot {
        /// Output file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The output extension is neither `.png` nor `.svg`.
    #[error("{}: unknown plot format (use a .png or .svg file name)", path.display())]
    Format {
        /// Output file.
        path: PathBuf,
    },
    /// Nothing to plot or export.
    #[error("{0}")]
    Empty(String),
}

/// Result of report operations.
pub type ReportResult<T> = Result<T, ReportError>;

static FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");
/// Font family name the plots use.
pub const FONT_FAMILY: &str = "sans-serif";

fn register_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // The bundled font is a valid TTF; a failure would show as a FontUnavailable draw error.
        let _ = plotters::style::register_font(FONT_FAMILY, FontStyle::Normal, FONT);
    });
}

/// Something that can draw itself on any plotters backend.
pub trait Plot {
    /// Draws on `root`; errors as text.
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String>;
}

/// Renders `plot` to `path` (`.png` or `.svg`) at `size` pixels.
pub fn render<P: Plot>(plot: &P, path: &Path, size: (u32, u32)) -> ReportResult<()> {
    register_font();
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    let plot_err = |message: String| ReportError::Plot {
        path: path.to_path_buf(),
        message,
    };
    match ext.as_deref() {
        Some("png") => {
            let root = BitMapBackend::new(path, size).into_drawing_area();
            plot.draw(&root).map_err(plot_err)?;
            root.present().map_err(|e| plot_err(e.to_string()))
        }
        Some("svg") => {
            let root = SVGBackend::new(path, size).into_drawing_area();
            plot.draw(&root).map_err(plot_err)?;
            root.present().map_err(|e| plot_err(e.to_string()))
        }
        _ => Err(ReportError::Format {
            path: path.to_path_buf(),
        }),
    }
}
