//! Frames split across machines: `--shard K/N` renders the frames whose number mod N is K.
//!
//! Interleaving (rather than cutting the scene into N blocks) gives every shard the same mix
//! of shallow and deep frames, so shards of a zoom take about the same time. Shards share one
//! output folder: each writes only its own frames (atomically, like every frame) and the
//! manifest is put in place without a race (see [`crate::output::metadata::Manifest::write`]).
//!
//! `--shard auto` reads K and N from the batch system:
//! - a Slurm array job: `K = SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN` and
//!   `N = SLURM_ARRAY_TASK_COUNT` (arrays may start at any index, e.g. `--array=1-8`; an array
//!   with a step, `--array=0-15:4`, is refused because its IDs do not number the shards);
//! - a Kubernetes Indexed Job: `K = JOB_COMPLETION_INDEX`, N from `--shard-count` (Kubernetes
//!   does not tell a pod the job's completion count).

use crate::error::{Error, Result};

/// One shard of a render.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This shard, `0..count`.
    pub index: u64,
    /// Number of shards, >= 1.
    pub count: u64,
}

impl Shard {
    /// Whether this shard renders frame `frame`.
    pub fn owns(&self, frame: u64) -> bool {
        frame % self.count == self.index
    }

    /// Parses `--shard` (`K/N` or `auto`), reading the environment through `env` for `auto`.
    pub fn parse(
        text: &str,
        shard_count: Option<u64>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Shard> {
        if text.trim() == "auto" {
            return Shard::from_env(shard_count, env);
        }
        let bad = |why: &str| Error::Usage(format!("--shard {text} is invalid ({why})"));
        let (k, n) = text
            .split_once('/')
            .ok_or_else(|| bad("expected K/N, e.g. 0/4, or auto"))?;
        let number = |s: &str| -> Result<u64> {
            s.trim()
                .parse()
                .map_err(|_| bad("expected K/N, e.g. 0/4, or auto"))
        };
        let (index, count) = (number(k)?, number(n)?);
        if count == 0 {
            return Err(bad("N must be >= 1"));
        }
        if index >= count {
            return Err(bad("K must be in 0..N"));
        }
        if shard_count.is_some_and(|c| c != count) {
            return Err(bad("it disagrees with --shard-count"));
        }
        Ok(Shard { index, count })
    }

    fn from_env(shard_count: Option<u64>, env: &dyn Fn(&str) -> Option<String>) -> Result<Shard> {
        let var = |name: &str| -> Result<Option<u64>> {
            match env(name) {
                None => Ok(None),
                Some(v) if v.trim().is_empty() => Ok(None),
                Some(v) => v.trim().parse().map(Some).map_err(|_| {
                    Error::Usage(format!(
                        "--shard auto: {name}={v} is not a non-negative integer"
                    ))
                }),
            }
        };
        if let Some(id) = var("SLURM_ARRAY_TASK_ID")? {
            let min = var("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
            let step = var("SLURM_ARRAY_TASK_STEP")?.unwrap_or(1);
            if step != 1 {
                return Err(Error::Usage(format!(
                    "--shard auto: the Slurm array has a step of {step}; use --array=0-(N-1) \
                     (every index), or --shard K/N"
                )));
            }
            let count = match (shard_count, var("SLURM_ARRAY_TASK_COUNT")?) {
                (Some(c), _) | (None, Some(c)) => c,
                (None, None) => match var("SLURM_ARRAY_TASK_MAX")? {
                    Some(max) if max >= min => max - min + 1,
                    _ => {
                        return Err(Error::Usage(
                            "--shard auto: SLURM_ARRAY_TASK_ID is set but not \
                             SLURM_ARRAY_TASK_COUNT; add --shard-count N"
                                .into(),
                        ));
                    }
                },
            };
            let index = id.checked_sub(min).ok_or_else(|| {
                Error::Usage(format!(
                    "--shard auto: SLURM_ARRAY_TASK_ID={id} is below SLURM_ARRAY_TASK_MIN={min}"
                ))
            })?;
            return Shard::checked(index, count, "SLURM_ARRAY_TASK_ID");
        }
        if let Some(index) = var("JOB_COMPLETION_INDEX")? {
            let count = shard_count.ok_or_else(|| {
                Error::Usage(
                    "--shard auto: JOB_COMPLETION_INDEX is set (a Kubernetes Indexed Job) but \
                     --shard-count is not; pass --shard-count with the job's completions"
                        .into(),
                )
            })?;
            return Shard::checked(index, count, "JOB_COMPLETION_INDEX");
        }
        Err(Error::Usage(
            "--shard auto: neither SLURM_ARRAY_TASK_ID (a Slurm array job) nor \
             JOB_COMPLETION_INDEX (a Kubernetes Indexed Job) is set; use --shard K/N"
                .into(),
        ))
    }

    fn checked(index: u64, count: u64, source: &str) -> Result<Shard> {
        if count == 0 || index >= count {
            return Err(Error::Usage(format!(
                "--shard auto: shard {index} of {count} (from {source}) is out of range"
            )));
        }
        Ok(Shard { index, count })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn explicit_shards() {
        let none = env(&[]);
        assert_eq!(
            Shard::parse("1/4", None, &none).unwrap(),
            Shard { index: 1, count: 4 }
        );
        assert!(Shard::parse("4/4", None, &none).is_err());
        assert!(Shard::parse("0/0", None, &none).is_err());
        assert!(Shard::parse("x", None, &none).is_err());
        let s = Shard { index: 2, count: 3 };
        let owned: Vec<u64> = (0..9).filter(|&f| s.owns(f)).collect();
        assert_eq!(owned, [2, 5, 8]);
    }

    #[test]
    fn slurm_arrays_may_start_anywhere() {
        let vars = [
            ("SLURM_ARRAY_TASK_ID", "3"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ];
        assert_eq!(
            Shard::parse("auto", None, &env(&vars)).unwrap(),
            Shard { index: 2, count: 4 }
        );
        let vars = [
            ("SLURM_ARRAY_TASK_ID", "5"),
            ("SLURM_ARRAY_TASK_MIN", "5"),
            ("SLURM_ARRAY_TASK_MAX", "7"),
        ];
        assert_eq!(
            Shard::parse("auto", None, &env(&vars)).unwrap(),
            Shard { index: 0, count: 3 }
        );
        let vars = [("SLURM_ARRAY_TASK_ID", "0"), ("SLURM_ARRAY_TASK_STEP", "2")];
        assert!(Shard::parse("auto", None, &env(&vars)).is_err());
    }

    #[test]
    fn kubernetes_needs_a_shard_count() {
        let vars = [("JOB_COMPLETION_INDEX", "2")];
        assert_eq!(
            Shard::parse("auto", Some(5), &env(&vars)).unwrap(),
            Shard { index: 2, count: 5 }
        );
        let e = Shard::parse("auto", None, &env(&vars)).unwrap_err();
        assert!(e.to_string().contains("--shard-count"), "{e}");
        assert!(Shard::parse("auto", Some(2), &env(&vars)).is_err());
        let e = Shard::parse("auto", None, &env(&[])).unwrap_err();
        assert!(e.to_string().contains("SLURM_ARRAY_TASK_ID"), "{e}");
    }
}
