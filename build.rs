//! Links the `ash` executable at a fixed address (not position-independent)
//! on Linux: a PIE carried 16,000 relative relocations that the dynamic
//! loader applied at every start, writing (and so copying) 80 pages of
//! read-only data — 210,000 of the 760,000 instructions and 60 of the 180
//! page faults of `ash -c true` (docs/performance.md, W1). Libraries, heap
//! and stacks are still placed at random; only the executable's own code
//! and data are not.
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os == "linux" {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}
