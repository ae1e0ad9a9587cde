//! Resuming: what the output folder already holds, checked before anything is written.
//!
//! Every frame in the range must carry this scene's hash ([`crate::output::metadata`]); a frame
//! that is whole and matches is skipped, one from another scene makes the run refuse (exit code
//! 2) unless `--overwrite` is given, in which case the old scene's frames are removed rather than
//! left mixed with new ones.

use super::Plan;
use crate::error::{Error, Result};
use crate::output::metadata::{FrameState, Manifest, mismatch, read_frame_state};

impl Plan {
    /// Looks at the output folder before anything is written: which frames of
    /// the run's frames are done (whole, with this scene's hash) and which must be rendered.
    /// A manifest or frame of another scene is refused (exit code 2) unless `overwrite`.
    pub fn survey(&self) -> Result<Survey> {
        let dir = self.folder.dir();
        let mut survey = Survey::default();
        if !dir.is_dir() {
            // Nothing there yet (or not a folder: creating it reports that).
            survey.todo = self.frame_list.clone();
            return Ok(survey);
        }
        if !self.overwrite
            && let Some(found) = Manifest::read_hash(dir)?
            && found != self.scene_hash
        {
            return Err(mismatch(
                &crate::output::metadata::manifest_path(dir),
                Some(&found),
                &self.scene_hash,
            ));
        }
        for &frame in &self.frame_list {
            if self.overwrite {
                survey.todo.push(frame);
                continue;
            }
            let path = self.folder.frame_path(frame);
            match read_frame_state(&path)? {
                FrameState::Missing => survey.todo.push(frame),
                FrameState::Damaged => {
                    survey.damaged += 1;
                    survey.todo.push(frame);
                }
                FrameState::Complete(Some(h)) if h == self.scene_hash => {
                    if self.data && !self.folder.data_path(frame).is_file() {
                        survey.todo.push(frame);
                    } else {
                        survey.done.push(frame);
                    }
                }
                FrameState::Complete(other) => {
                    return Err(mismatch(&path, other.as_deref(), &self.scene_hash));
                }
            }
        }
        Ok(survey)
    }
    /// With `--overwrite`, removes frames of another scene (any hash but this one), so the
    /// folder never mixes two scenes. Frames of this scene (another shard's) are kept.
    fn remove_foreign_frames(&self) -> Result<usize> {
        let dir = self.folder.dir();
        let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
        let mut removed = 0;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(stem) = name
                .strip_prefix("frame_")
                .and_then(|n| n.strip_suffix(".png"))
            else {
                continue;
            };
            let path = entry.path();
            if let FrameState::Complete(Some(h)) = read_frame_state(&path)?
                && h == self.scene_hash
            {
                continue;
            }
            std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
            let _ = std::fs::remove_file(dir.join(format!("frame_{stem}.exr")));
            removed += 1;
        }
        Ok(removed)
    }
    /// Creates the output folder, removes this run's stale temporary files, and writes the
    /// manifest (after removing another scene's frames when overwriting). Returns how many
    /// temporary files were removed.
    pub(super) fn prepare_folder(&self) -> Result<usize> {
        self.folder.create()?;
        let stale = self.folder.remove_stale_temporaries_of(&|frame| {
            match (self.shard, frame) {
                (None, _) => true,
                (Some(shard), Some(f)) => shard.owns(f),
                // Another shard may be writing the manifest right now.
                (Some(_), None) => false,
            }
        })?;
        let manifest = Manifest::new(&self.scene, self.width, self.height, self.supersample);
        if self.overwrite {
            // Octaves cached by earlier runs go with the frames they were for.
            let cache = self.cache_dir();
            if cache.exists() {
                std::fs::remove_dir_all(&cache).map_err(|e| Error::io(&cache, e))?;
            }
            let previous = Manifest::read_hash(self.folder.dir())?;
            if previous.as_deref() != Some(self.scene_hash.as_str()) {
                self.remove_foreign_frames()?;
            }
        }
        manifest.write(self.folder.dir(), self.overwrite)?;
        Ok(stale)
    }
}

/// What [`Plan::survey`] found in the output folder.
#[derive(Debug, Clone, Default)]
pub struct Survey {
    /// Frames to render, in order.
    pub todo: Vec<u64>,
    /// Frames done and matching, in order.
    pub done: Vec<u64>,
    /// Frames found cut short (damaged outside zoomgen), to render again.
    pub damaged: u64,
}
