//! Choosing a kernel at run time.
//!
//! The best kernel depends on the CPU the binary runs on, not the one it was built on, so the
//! choice is made when rendering starts: AVX-512 where the CPU has AVX-512F, else AVX2, else
//! the portable interleaved kernel (the one-sample scalar kernel is the reference, kept for
//! tests and comparisons). `ZOOMGEN_KERNEL=scalar|interleaved|avx2|avx512` forces one, and
//! is refused with a clear message when the CPU lacks what it needs.
//!
//! This is the one place that chooses an instruction set: the plain kernel ([`select_kernel`]),
//! the perturbation loops of deep frames ([`delta_lockstep`]) and the row coloring
//! ([`direct_color`]) all follow the same choice, so `ZOOMGEN_KERNEL=scalar` runs every path
//! without SIMD.

use std::sync::OnceLock;

use crate::arch::x86::color::DirectColor;
use crate::error::Error;
use crate::arch::x86::delta::DeltaLockstep;
use super::{Avx2Kernel, Avx512Kernel, InterleavedKernel, Kernel, KernelOptions, ScalarKernelWith};

/// The environment variable that forces a kernel.
pub const KERNEL_ENV: &str = "ZOOMGEN_KERNEL";

/// Every kernel name, slowest first.
pub const KERNEL_NAMES: [&str; 4] = ["scalar", "interleaved", "avx2", "avx512"];

/// The kernels this CPU can run, slowest first (the last is the one [`select_kernel`] picks).
pub fn available_kernels() -> Vec<&'static str> {
    let options = KernelOptions::default();
    let mut names = vec!["scalar", "interleaved"];
    if Avx2Kernel::new(options).is_some() {
        names.push("avx2");
    }
    if Avx512Kernel::new(options).is_some() {
        names.push("avx512");
    }
    names
}

/// The kernel called `name`, with default options.
#[cfg(any(test, feature = "internals"))]
pub fn kernel_by_name(name: &str) -> Result<Box<dyn Kernel>, Error> {
    kernel_by_name_with(name, KernelOptions::default())
}

/// The kernel called `name`, with `options`; an error ([`Error::Kernel`]) names what is
/// missing or what is valid.
pub fn kernel_by_name_with(name: &str, options: KernelOptions) -> Result<Box<dyn Kernel>, Error> {
    let problem = |problem: String| Error::Kernel {
        variable: KERNEL_ENV,
        name: name.to_string(),
        problem,
    };
    let lacks = |feature: &str| {
        problem(format!(
            "this CPU lacks {feature} (available: {})",
            available_kernels().join(", ")
        ))
    };
    match name {
        "scalar" => Ok(Box::new(ScalarKernelWith { options })),
        "interleaved" => Ok(Box::new(InterleavedKernel::new(options))),
        "avx2" => match Avx2Kernel::new(options) {
            Some(k) => Ok(Box::new(k)),
            None => Err(lacks("AVX2")),
        },
        "avx512" => match Avx512Kernel::new(options) {
            Some(k) => Ok(Box::new(k)),
            None => Err(lacks("AVX-512F")),
        },
        _ => Err(problem(format!(
            "unknown kernel (valid: {})",
            KERNEL_NAMES.join(", ")
        ))),
    }
}

/// The kernel `ZOOMGEN_KERNEL` names, or the best one this CPU has when it is unset or empty;
/// default options.
pub fn select_kernel() -> Result<Box<dyn Kernel>, Error> {
    select_kernel_with(KernelOptions::default())
}

/// Like [`select_kernel`], with `options`.
pub fn select_kernel_with(options: KernelOptions) -> Result<Box<dyn Kernel>, Error> {
    let forced = std::env::var(KERNEL_ENV).ok();
    kernel_from_setting(forced.as_deref(), options)
}

/// The choice for a `ZOOMGEN_KERNEL` value (`None`: not set).
fn kernel_from_setting(
    setting: Option<&str>,
    options: KernelOptions,
) -> Result<Box<dyn Kernel>, Error> {
    match setting.map(str::trim) {
        None | Some("") => {
            let best = *available_kernels()
                .last()
                .expect("scalar is always available");
            kernel_by_name_with(best, options)
        }
        Some(name) => kernel_by_name_with(name, options),
    }
}

/// The name of the kernel of this process: the one `ZOOMGEN_KERNEL` names, or the best this CPU
/// has when it is unset or empty; `None` when it names a kernel that cannot run here (which
/// [`select_kernel`] reports). Decided once per process.
fn chosen_name() -> Option<&'static str> {
    static CHOICE: OnceLock<Option<&'static str>> = OnceLock::new();
    *CHOICE.get_or_init(|| select_kernel().ok().map(|k| k.name()))
}

/// The SIMD coloring and counting for rows ([`DirectColor`]) where the kernel of this process
/// is AVX-512 and the CPU has AVX-512DQ too; `None` otherwise (the portable loops), so that
/// forcing a kernel also forces the portable loops (CI's forced-scalar run tests those).
pub fn direct_color() -> Option<DirectColor> {
    static CHOICE: OnceLock<Option<DirectColor>> = OnceLock::new();
    *CHOICE.get_or_init(|| match chosen_name() {
        Some("avx512") => DirectColor::detect(),
        _ => None,
    })
}

/// The perturbation lockstep loops ([`DeltaLockstep`]) for the instruction set of this process's
/// kernel: AVX-512 or AVX2 (each with FMA); `None` for `scalar` and `interleaved`, whose deep
/// frames run the portable loops.
pub fn delta_lockstep() -> Option<DeltaLockstep> {
    static CHOICE: OnceLock<Option<DeltaLockstep>> = OnceLock::new();
    *CHOICE.get_or_init(|| match chosen_name() {
        Some("avx512") => DeltaLockstep::detect().filter(|d| d.name() == "avx512"),
        Some("avx2") => DeltaLockstep::avx2(),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_errors() {
        let available = available_kernels();
        assert_eq!(&available[..2], &["scalar", "interleaved"]);
        for name in KERNEL_NAMES {
            match kernel_by_name(name) {
                Ok(k) => {
                    assert_eq!(k.name(), name);
                    assert!(available.contains(&name));
                }
                Err(e) => {
                    let e = e.to_string();
                    assert!(!available.contains(&name), "{e}");
                    assert!(
                        e.starts_with(&format!("ZOOMGEN_KERNEL={name}: this CPU lacks ")),
                        "{e}"
                    );
                    assert!(e.contains(&available.join(", ")), "{e}");
                }
            }
        }
        let e = kernel_from_setting(Some("avx1024"), KernelOptions::default())
            .err()
            .unwrap();
        assert_eq!(e.exit_code(), 2);
        assert_eq!(
            e.to_string(),
            "ZOOMGEN_KERNEL=avx1024: unknown kernel (valid: scalar, interleaved, avx2, avx512)"
        );
        let best = kernel_from_setting(None, KernelOptions::default()).unwrap();
        assert_eq!(best.name(), *available.last().unwrap());
        let empty = kernel_from_setting(Some(" "), KernelOptions::default()).unwrap();
        assert_eq!(empty.name(), best.name());
        let forced = kernel_from_setting(Some("scalar"), KernelOptions::default()).unwrap();
        assert_eq!(forced.name(), "scalar");
        // Whatever the environment says, select_kernel gives a kernel or a clear error.
        match select_kernel() {
            Ok(k) => assert!(available.contains(&k.name())),
            Err(e) => assert!(e.to_string().starts_with("ZOOMGEN_KERNEL="), "{e}"),
        }
        if !available.contains(&"avx512") {
            let e = kernel_from_setting(Some("avx512"), KernelOptions::default())
                .err()
                .unwrap();
            assert_eq!(
                e.to_string(),
                format!(
                    "ZOOMGEN_KERNEL=avx512: this CPU lacks AVX-512F (available: {})",
                    available.join(", ")
                )
            );
        }
    }
}
