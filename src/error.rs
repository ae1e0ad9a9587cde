//! The one error type of the library, and how each kind maps to an exit code.
//!
//! Bad input (a scene file or command-line value) is exit code 2 and is always detected before
//! anything is written; a failure while rendering (I/O, a dead ffmpeg) is exit code 1.

use std::path::PathBuf;

/// A problem with a scene file, located at a line when one is known.
///
/// Displays as `scenes/x.toml:14: keyframe[2].width = -1 is invalid (expected > 0)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SceneError {
    /// The file as the user named it (or `--set` for command-line overrides).
    pub file: String,
    /// 1-based line, when the problem has a place in the file.
    pub line: Option<usize>,
    /// What is wrong, naming the key: `keyframe[2].width = -1 is invalid (expected > 0)`.
    pub message: String,
}

impl std::fmt::Display for SceneError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.file, line, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

impl std::error::Error for SceneError {}

/// Everything that can go wrong in zoomgen.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The scene file is missing, unreadable or invalid.
    #[error("{0}")]
    Scene(#[from] SceneError),
    /// A command-line value is invalid (the message names the flag).
    #[error("{0}")]
    Usage(String),
    /// A file or folder could not be read, created or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// Rendering failed for another reason (for example a worker thread panicked).
    #[error("{0}")]
    Render(String),
}

impl Error {
    /// Builds an [`Error::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// The process exit code for this error: 2 for bad input, 1 for failures while rendering.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Scene(_) | Error::Usage(_) => 2,
            Error::Io { .. } | Error::Render(_) => 1,
        }
    }
}

/// Shorthand for results in this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
