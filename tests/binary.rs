//! How the `ash` executable is linked, for a fast start (`ash -c true`,
//! docs/performance.md, W1): read from the ELF file itself.

#![cfg(all(target_os = "linux", target_env = "gnu", target_arch = "x86_64"))]

const ASH: &str = env!("CARGO_BIN_EXE_ash");

/// The parts of an ELF64 little-endian file these tests look at.
struct Elf {
    data: Vec<u8>,
}

/// A section header: name, address, file offset, size, linked section.
struct Section {
    name: String,
    addr: u64,
    offset: usize,
    size: usize,
    link: usize,
}

impl Elf {
    fn read(path: &str) -> Elf {
        let data = std::fs::read(path).expect("read the ash executable");
        assert_eq!(&data[..4], b"\x7fELF", "an ELF file");
        assert_eq!(data[4], 2, "64-bit");
        assert_eq!(data[5], 1, "little-endian");
        Elf { data }
    }

    fn u16(&self, at: usize) -> usize {
        u16::from_le_bytes(self.data[at..at + 2].try_into().expect("2 bytes")) as usize
    }

    fn u32(&self, at: usize) -> usize {
        u32::from_le_bytes(self.data[at..at + 4].try_into().expect("4 bytes")) as usize
    }

    fn u64(&self, at: usize) -> u64 {
        u64::from_le_bytes(self.data[at..at + 8].try_into().expect("8 bytes"))
    }

    /// The NUL-terminated string at `at`.
    fn str_at(&self, at: usize) -> String {
        let end = self.data[at..]
            .iter()
            .position(|&b| b == 0)
            .map_or(self.data.len(), |n| at + n);
        String::from_utf8_lossy(&self.data[at..end]).into_owned()
    }

    fn sections(&self) -> Vec<Section> {
        let (shoff, shentsize, shnum, shstrndx) = (
            self.u64(0x28) as usize,
            self.u16(0x3a),
            self.u16(0x3c),
            self.u16(0x3e),
        );
        let header = |i: usize| shoff + i * shentsize;
        let names_at = self.u64(header(shstrndx) + 0x18) as usize;
        (0..shnum)
            .map(|i| {
                let h = header(i);
                Section {
                    name: self.str_at(names_at + self.u32(h)),
                    addr: self.u64(h + 0x10),
                    offset: self.u64(h + 0x18) as usize,
                    size: self.u64(h + 0x20) as usize,
                    link: self.u32(h + 0x28),
                }
            })
            .collect()
    }

    /// The shared libraries the executable needs (`DT_NEEDED`).
    fn needed(&self) -> Vec<String> {
        let sections = self.sections();
        let dynamic = sections
            .iter()
            .find(|s| s.name == ".dynamic")
            .expect("a dynamic executable");
        let strings = sections[dynamic.link].offset;
        (0..dynamic.size / 16)
            .map(|i| dynamic.offset + i * 16)
            .filter(|&entry| self.u64(entry) == 1)
            .map(|entry| self.str_at(strings + self.u64(entry + 8) as usize))
            .collect()
    }

    /// The address of the first function symbol whose name contains `part`.
    fn symbol(&self, part: &str) -> Option<u64> {
        let sections = self.sections();
        let symtab = sections.iter().find(|s| s.name == ".symtab")?;
        let strings = sections[symtab.link].offset;
        (0..symtab.size / 24)
            .map(|i| symtab.offset + i * 24)
            .filter(|&sym| self.data[sym + 4] & 0xf == 2)
            .find(|&sym| self.str_at(strings + self.u32(sym)).contains(part))
            .map(|sym| self.u64(sym + 8))
    }
}

/// Every shared library is one more for the dynamic loader to find, map
/// and relocate at each start: GCC's unwinder is linked in (build.rs) and
/// float `**` is computed by the `libm` crate, so only libc is left.
#[test]
fn ash_needs_no_shared_library_but_libc() {
    let needed = Elf::read(ASH).needed();
    assert!(
        !needed.iter().any(|n| n.starts_with("libgcc_s")),
        "ash links libgcc_s: {needed:?}"
    );
    assert!(
        !needed.iter().any(|n| n.starts_with("libm.")),
        "ash links libm: {needed:?}"
    );
    assert!(needed.iter().any(|n| n.starts_with("libc.")), "{needed:?}");
}

/// The functions that run as ash starts are packed together at the front
/// of its code (`src/startup.ld`, passed by build.rs), so that the kernel
/// maps them in with a few page faults instead of one per 64 KiB of code
/// they are spread over.
#[test]
fn start_up_code_is_packed_together() {
    let elf = Elf::read(ASH);
    let sections = elf.sections();
    let packed = sections
        .iter()
        .find(|s| s.name == ".text.ash_startup")
        .expect("a .text.ash_startup section (src/startup.ld)");
    for function in ["3ash3cli4main17h", "3ash6syntax5parse17h"] {
        let addr = elf
            .symbol(function)
            .unwrap_or_else(|| panic!("no symbol {function}"));
        assert!(
            (packed.addr..packed.addr + packed.size as u64).contains(&addr),
            "{function} at {addr:#x} is not in .text.ash_startup"
        );
    }
}

/// Starting and running a short script detects no CPU features: std's
/// detection (`is_x86_feature_detected`, used by memchr on its first call)
/// runs seven CPUID instructions, each a trap to the hypervisor in a VM
/// (3-15 us here), 5% of `ash -c true`. It was reached through
/// nom_locate's line count at the first token of every parse (now a plain
/// count, vendor/nom_locate). Watched with gdb: a breakpoint on std's
/// detection, which a script searching a string must hit (so a renamed
/// symbol fails the test rather than passing it). Skipped where gdb is not
/// installed, failed under CI (`.ci/run` installs it).
#[test]
fn a_short_script_runs_without_cpu_feature_detection() {
    if std::process::Command::new("gdb")
        .arg("--version")
        .output()
        .is_err()
    {
        assert!(
            std::env::var_os("CI").is_none(),
            "gdb is not installed (CI must not pass by skipping)"
        );
        eprintln!("skipped: gdb is not installed");
        return;
    }
    let under_gdb = |script: &str| {
        let out = std::process::Command::new("gdb")
            .args(["-q", "-batch", "-nx"])
            .args(["-ex", "set breakpoint pending on"])
            .args([
                "-ex",
                "break std_detect::detect::cache::detect_and_initialize",
            ])
            .args(["-ex", "run", "-ex", "bt 8", "--args", ASH, "-c", script])
            .output()
            .expect("gdb runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // The control: a search through a long string goes through memchr,
    // which detects the CPU's features first.
    let searching = under_gdb("let s = $(seq 1 2000)\nif (contains(s, \"1999\")) { echo found }");
    assert!(
        searching.contains("Breakpoint 1,"),
        "the breakpoint on std's CPU feature detection was never hit, even by a string search: \
         has the symbol been renamed?\n{searching}"
    );
    let text = under_gdb("let n = 1 + 2\nif (n > 2) { echo \"n is $n\" }\n/bin/true");
    assert!(
        text.contains("n is 3"),
        "the script did not run under gdb:\n{text}"
    );
    assert!(
        !text.contains("Breakpoint 1,"),
        "ash detected CPU features as it started:\n{text}"
    );
}
