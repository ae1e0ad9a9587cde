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
///
/// New kinds may be added: match with a `_` arm. [`Error::exit_code`] sorts every kind into bad
/// input (2) and failures while rendering (1).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The scene file is missing, unreadable or invalid.
    #[error("{0}")]
    Scene(#[from] SceneError),
    /// A command-line value is invalid (the message names the flag and what was expected).
    #[error("{0}")]
    Usage(String),
    /// A [`crate::RenderOptions`] value, or an argument of [`crate::Renderer`], is out of range.
    #[error("{option} {value} is invalid (expected {expected})")]
    InvalidOption {
        /// The option or argument: `frame width`, `threads`, `frame`.
        option: &'static str,
        /// The value given.
        value: String,
        /// What is valid.
        expected: String,
    },
    /// `ZOOMGEN_KERNEL` names a kernel that does not exist or that this CPU cannot run.
    #[error("{variable}={name}: {problem}")]
    Kernel {
        /// The environment variable (`ZOOMGEN_KERNEL`).
        variable: &'static str,
        /// The kernel it names.
        name: String,
        /// What is wrong, with the valid or available names.
        problem: String,
    },
    /// A file or folder could not be read, created or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// A frame found in the output folder is unreadable or has another size (`--video` reads
    /// the frames of an earlier run back).
    #[error("{} {problem}", path.display())]
    BadFrame {
        /// The frame's file.
        path: PathBuf,
        /// What is wrong with it, as a predicate: `is 64x36, expected 1920x1080`.
        problem: String,
    },
    /// Frames could not be written to stdout (`--pipe`).
    #[error("cannot write frames to stdout: {0} (did the reading program stop?)")]
    Stdout(#[source] std::io::Error),
    /// ffmpeg could not be started, or ended before the video was complete (`--video`).
    #[error("{0}")]
    Ffmpeg(String),
    /// A worker thread panicked: a bug, reported with its message.
    #[error("a {thread} thread panicked{}", message.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    Panicked {
        /// Which thread: `render`, `PNG encoder`.
        thread: &'static str,
        /// The panic's message, when it had one.
        message: Option<String>,
    },
    /// The frame writer stopped taking frames (after one of its threads failed).
    #[error("the frame writer {0}")]
    WriterStopped(&'static str),
    /// Escape data (`--data`) was asked for a frame rendered without it: a bug.
    #[error("frame {0}: no escape data was kept for --data")]
    NoEscapeData(u64),
    /// The signal handlers for clean stops could not be installed.
    #[error("cannot install signal handlers: {0}")]
    Signals(#[source] std::io::Error),
    /// A deep frame could not be prepared (its reference point could not be parsed).
    #[error("deep zoom: {0}")]
    DeepZoom(String),
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
            Error::Scene(_)
            | Error::Usage(_)
            | Error::InvalidOption { .. }
            | Error::Kernel { .. } => 2,
            Error::Io { .. }
            | Error::BadFrame { .. }
            | Error::Stdout(_)
            | Error::Ffmpeg(_)
            | Error::Panicked { .. }
            | Error::WriterStopped(_)
            | Error::NoEscapeData(_)
            | Error::Signals(_)
            | Error::DeepZoom(_) => 1,
        }
    }
}

/// Shorthand for results in this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
