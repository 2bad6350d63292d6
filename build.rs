//! Linker settings for the `ash` executable on Linux, for a faster start
//! (`ash -c true`, docs/performance.md, W1).
//!
//! - No PIE: a PIE carried 16,000 relative relocations that the dynamic
//!   loader applied at every start, writing (and so copying) 80 pages of
//!   read-only data — 210,000 of the 760,000 instructions and 60 of the 180
//!   page faults of `ash -c true`. Libraries, heap and stacks are still
//!   placed at random; only the executable's own code and data are not.
//! - GCC's unwinder linked in (`libgcc_eh.a`) instead of `libgcc_s.so`,
//!   whose only use was unwinding panics: one shared library fewer to find,
//!   map and relocate at every start.
//! - `src/startup.ld` (written by `bench/startup-order`): the functions
//!   that run as ash starts, packed at the front of its code, so that the
//!   kernel maps them in with a few page faults rather than one per 64 KiB
//!   window of code they were spread over (38 of them, 2-4 us each).
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os != "linux" {
        return;
    }
    println!("cargo:rustc-link-arg-bins=-no-pie");
    println!("cargo:rerun-if-changed=src/startup.ld");
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    println!("cargo:rustc-link-arg-bins=-Wl,-T,{dir}/src/startup.ld");
    if env == "gnu"
        && let Some(dir) = libgcc_eh_dir()
    {
        println!("cargo:rustc-link-search=native={dir}");
        println!("cargo:rustc-link-lib=static:-bundle=gcc_eh");
    }
}

/// The directory of the C compiler's `libgcc_eh.a`, if it has one (and
/// not when cross-compiling: `cc` would name the host's).
fn libgcc_eh_dir() -> Option<String> {
    if std::env::var("HOST").ok() != std::env::var("TARGET").ok() {
        return None;
    }
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let out = std::process::Command::new(cc)
        .arg("-print-file-name=libgcc_eh.a")
        .output()
        .ok()?;
    let path = String::from_utf8(out.stdout).ok()?;
    let path = std::path::Path::new(path.trim());
    // Not found: the compiler prints the bare name back.
    if !out.status.success() || !path.is_absolute() || !path.exists() {
        return None;
    }
    Some(path.parent()?.to_str()?.to_owned())
}
