//! Clean stops: SIGINT and SIGTERM ask the render to stop; a second one stops at once.
//!
//! The first signal sets the `cancel` flag that [`crate::render::pipeline::render_frames`] watches:
//! workers stop after their current band, frames already finished are written, unfinished ones
//! are dropped, and the command exits with 128 + the signal number (130 for SIGINT, 143 for
//! SIGTERM) after saying how far it got. A second signal `_exit`s at once with the same code:
//! frames being written are then left in temporary files, never under a final name, and the
//! next run removes them.
//!
//! SIGXFSZ (a file grew past `ulimit -f`) is caught and ignored, so such a write fails with
//! `EFBIG` and is reported as a failed write naming the file, instead of killing the process
//! with half a frame in a temporary file and no message.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use signal_hook::consts::signal::{SIGINT, SIGTERM, SIGXFSZ};

use crate::error::{Error, Result};

/// The installed handlers and what they have seen.
#[derive(Debug, Clone)]
pub struct Signals {
    cancel: Arc<AtomicBool>,
    which: Arc<AtomicUsize>,
}

impl Signals {
    /// Installs the handlers for SIGINT, SIGTERM and SIGXFSZ.
    pub fn install() -> Result<Signals> {
        let cancel = Arc::new(AtomicBool::new(false));
        let which = Arc::new(AtomicUsize::new(0));
        let failed = Error::Signals;
        for signal in [SIGINT, SIGTERM] {
            let code = 128 + signal;
            // Registered first, so it runs before the flag below is set: it fires only on a
            // second signal.
            signal_hook::flag::register_conditional_shutdown(signal, code, cancel.clone())
                .map_err(failed)?;
            signal_hook::flag::register_usize(signal, which.clone(), signal as usize)
                .map_err(failed)?;
            signal_hook::flag::register(signal, cancel.clone()).map_err(failed)?;
        }
        signal_hook::flag::register(SIGXFSZ, Arc::new(AtomicBool::new(false))).map_err(failed)?;
        Ok(Signals { cancel, which })
    }

    /// The flag a render watches.
    pub fn cancel_flag(&self) -> &AtomicBool {
        &self.cancel
    }

    /// The first stopping signal received: its name and the exit code it calls for.
    pub fn received(&self) -> Option<(&'static str, u8)> {
        match self.which.load(Ordering::SeqCst) as i32 {
            0 => None,
            SIGINT => Some(("SIGINT", 130)),
            SIGTERM => Some(("SIGTERM", 143)),
            _ => Some(("a signal", 130)),
        }
    }
}
