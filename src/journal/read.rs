//! Reading a journal: every record, with a warning for each line that is
//! not one (a line torn by a crash), and an error for a file that is not a
//! journal at all.

use std::path::Path;

use super::record::{PREFIX, Record};

/// A journal's records, in the order they were written, and what was
/// wrong with its lines.
#[derive(Default)]
pub struct Journal {
    pub records: Vec<Record>,
    /// `line N: ...` for each line that is not a record.
    pub warnings: Vec<String>,
}

/// Why a file cannot be read as a journal.
#[derive(Debug)]
pub enum ReadError {
    /// It cannot be read (does not exist, no permission, ...).
    Io(std::io::Error),
    /// Its first line is not a journal's.
    NotAJournal(String),
}

impl ReadError {
    pub fn message(&self, path: &Path) -> String {
        match self {
            ReadError::Io(e) => format!("{}: {}", path.display(), io_message(e)),
            ReadError::NotAJournal(why) => format!(
                "{}: not an ash journal ({why}); nothing was changed",
                path.display()
            ),
        }
    }
}

pub fn io_message(e: &std::io::Error) -> String {
    crate::builtins::commands::io_message(e)
}

/// Read the journal at `path`, under a shared `flock` (best effort): a
/// run appending to it meanwhile is not half-way through a line, which
/// would read as torn.
pub fn read(path: &Path) -> Result<Journal, ReadError> {
    use std::io::Read as _;
    let mut file = std::fs::File::open(path).map_err(ReadError::Io)?;
    let _ = file.lock_shared();
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).map_err(ReadError::Io)?;
    parse(&bytes)
}

/// Check the start of a file: is it a journal (or empty)?
pub fn check_start(start: &[u8]) -> Result<(), ReadError> {
    if start.is_empty() || start.starts_with(PREFIX) {
        return Ok(());
    }
    // A crash in the first write can leave part of the first line.
    if PREFIX.starts_with(start) {
        return Ok(());
    }
    Err(ReadError::NotAJournal(describe(start)))
}

/// What the first line looks like, for the error.
fn describe(start: &[u8]) -> String {
    if start.contains(&0) || std::str::from_utf8(&start[..start.len().min(64)]).is_err() {
        return "it is binary".into();
    }
    let first = start.split(|&b| b == b'\n').next().unwrap_or(start);
    let text = String::from_utf8_lossy(&first[..first.len().min(40)]).into_owned();
    format!("its first line is {text:?}, not a JSON record of a run")
}

/// The records of a journal's text.
pub fn parse(bytes: &[u8]) -> Result<Journal, ReadError> {
    let mut journal = Journal::default();
    if bytes.is_empty() {
        return Ok(journal);
    }
    let mut lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
    // The text after the last newline: empty, or a line torn by a crash.
    let torn = lines.pop().filter(|rest| !rest.is_empty());
    for (i, line) in lines.iter().enumerate() {
        if line.is_empty() {
            continue;
        }
        match Record::parse(line) {
            Some(r) => journal.records.push(r),
            None if i == 0 => {
                return Err(ReadError::NotAJournal(describe(line)));
            }
            None => journal.warnings.push(format!(
                "line {}: not a whole record (torn by a crash, or written over); ignored",
                i + 1
            )),
        }
    }
    if let Some(rest) = torn {
        if lines.is_empty() {
            check_start(rest)?;
        }
        match Record::parse(rest) {
            // Whole, only its newline missing.
            Some(r) => journal.records.push(r),
            None => journal.warnings.push(format!(
                "line {}: the last line is torn (the run was killed while writing it); read up to there",
                lines.len() + 1
            )),
        }
    }
    Ok(journal)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &str = r#"{"run":"r","key":"k","status":"ok","value":1}"#;

    #[test]
    fn a_torn_last_line_is_a_warning() {
        let text = format!("{OK}\n{}", &OK[..20]);
        let j = parse(text.as_bytes()).expect("a journal");
        assert_eq!(j.records.len(), 1);
        assert_eq!(j.warnings.len(), 1);
        assert!(j.warnings[0].contains("torn"), "{:?}", j.warnings);
    }

    #[test]
    fn a_torn_line_in_the_middle_is_skipped() {
        let text = format!("{OK}\n{}\n{OK}\n", &OK[..20]);
        let j = parse(text.as_bytes()).expect("a journal");
        assert_eq!(j.records.len(), 2);
        assert_eq!(j.warnings.len(), 1);
    }

    #[test]
    fn other_files_are_not_journals() {
        for text in ["hello\n", "{\"a\":1}\n", "\u{0}\u{1}binary", "[1,2]\n"] {
            assert!(
                matches!(parse(text.as_bytes()), Err(ReadError::NotAJournal(_))),
                "{text:?}"
            );
        }
        assert!(parse(b"").is_ok());
        assert!(parse(b"{\"run").is_ok(), "the first write torn");
    }
}
