//! Multi-line input: a line the parser finds *incomplete* (an unclosed
//! block, quote or bracket, a trailing `|`, `&&`, `||` or `\`) is not
//! submitted; Enter inserts a newline and editing continues.

use reedline::{ValidationResult, Validator};

pub struct AshValidator;

impl Validator for AshValidator {
    fn validate(&self, line: &str) -> ValidationResult {
        if is_incomplete(line) {
            ValidationResult::Incomplete
        } else {
            ValidationResult::Complete
        }
    }
}

/// True when the text is a prefix of a valid program: the parser ran out of
/// input inside a construct. Other syntax errors are submitted, so that they
/// are reported with a caret.
pub fn is_incomplete(text: &str) -> bool {
    matches!(crate::syntax::parse(text), Err(e) if e.incomplete)
}

#[cfg(test)]
mod tests {
    use super::is_incomplete;

    #[test]
    fn incomplete_inputs() {
        for t in [
            "if true {",
            "echo 'abc",
            "echo \"x",
            "ls |",
            "fn f() {\n echo 1",
            "let x = [1,",
            "true &&",
        ] {
            assert!(is_incomplete(t), "{t:?} should be incomplete");
        }
        for t in ["echo hi", "if true { echo 1 }", "echo )", "", "let = 3"] {
            assert!(!is_incomplete(t), "{t:?} should be complete");
        }
    }
}
