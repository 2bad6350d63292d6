//! The text of the line `gather --progress` and `race --progress` keep
//! on a terminal's stderr (the runtime draws it: `runtime/progress.rs`).
//!
//! `gather [12/40] ███████░░░░░░░░░ running 8, failed 1 · 3.2 s, ETA 7 s`
//!
//! The bar is shown when the terminal has room for it (at least 16 cells
//! beside the text); the line is cut to the terminal's width less one
//! column, so it never wraps (a wrapped line cannot be redrawn in place).

use std::time::Duration;

/// Where a `gather` or `race` is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub total: usize,
    /// Finished, failed ones included.
    pub done: usize,
    pub failed: usize,
    pub running: usize,
}

/// Cells of the bar at most.
const BAR_MAX: usize = 30;
/// A bar narrower than this is left out.
const BAR_MIN: usize = 10;

/// The line for `counts` after `elapsed`, at most `width - 1` columns
/// (`width` 0: not known, 80 assumed).
pub fn line(label: &str, counts: Counts, elapsed: Duration, width: usize) -> String {
    let width = if width == 0 { 80 } else { width };
    let Counts {
        total,
        done,
        failed,
        running,
    } = counts;
    let mut tail = format!("running {running}, failed {failed} · {}", seconds(elapsed));
    // The ETA: the time per finished branch so far, for those left.
    if done > 0 && done < total {
        let left = elapsed.as_secs_f64() / done as f64 * (total - done) as f64;
        tail.push_str(&format!(", ETA {}", seconds(Duration::from_secs_f64(left))));
    } else if done == 0 && total > 0 {
        tail.push_str(", ETA ?");
    }
    let head = format!("{label} [{done}/{total}]");
    let fixed = head.chars().count() + 1 + tail.chars().count();
    let room = width.saturating_sub(1 + fixed + 1);
    let text = if room >= BAR_MIN {
        let cells = room.min(BAR_MAX);
        let filled = (cells * done).checked_div(total).unwrap_or(cells);
        format!(
            "{head} {}{} {tail}",
            "█".repeat(filled),
            "░".repeat(cells - filled)
        )
    } else {
        format!("{head} {tail}")
    };
    text.chars().take(width.saturating_sub(1).max(1)).collect()
}

/// `0.4 s`, `12 s`, `3 m 05 s`.
fn seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 10.0 {
        format!("{s:.1} s")
    } else if s < 60.0 {
        format!("{} s", s as u64)
    } else {
        let s = s as u64;
        format!("{} m {:02} s", s / 60, s % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(total: usize, done: usize, failed: usize, running: usize) -> Counts {
        Counts {
            total,
            done,
            failed,
            running,
        }
    }

    #[test]
    fn the_line_shows_counts_elapsed_eta_and_a_bar_when_wide() {
        let l = line("gather", counts(40, 10, 1, 8), Duration::from_secs(5), 100);
        assert!(l.starts_with("gather [10/40] "), "{l}");
        assert!(l.contains("running 8, failed 1 · 5.0 s, ETA 15 s"), "{l}");
        // A quarter done: 7 of the bar's 30 cells.
        assert_eq!(l.matches(['█', '░']).count(), 30, "{l}");
        assert_eq!(l.matches('█').count(), 7, "{l}");
        let narrow = line("gather", counts(40, 10, 1, 8), Duration::from_secs(5), 50);
        assert!(!narrow.contains('░'), "{narrow}");
        assert!(narrow.chars().count() <= 49, "{narrow}");
    }

    #[test]
    fn the_eta_is_unknown_before_the_first_branch_ends_and_gone_at_the_end() {
        let l = line("race", counts(3, 0, 0, 3), Duration::from_millis(300), 80);
        assert!(l.ends_with("0.3 s, ETA ?"), "{l}");
        let l = line("race", counts(3, 3, 3, 0), Duration::from_secs(75), 80);
        assert!(l.ends_with("1 m 15 s"), "{l}");
    }

    #[test]
    fn a_tiny_terminal_still_gets_a_line_that_does_not_wrap() {
        let l = line("gather", counts(5, 1, 0, 1), Duration::ZERO, 10);
        assert_eq!(l.chars().count(), 9);
    }
}
