//! `ash --timeline`: when the run ends, a text Gantt chart on stderr.
//!
//! One row per task and per external command: its name, a bar on a time
//! axis shared by all rows and scaled to the terminal's width, its
//! duration and how it ended. When there are more rows than fit (the
//! terminal's height, or 50 rows when stderr is not a terminal), the
//! longest are shown, longest first, and the rest are counted. Then the
//! run's total time and its peak concurrency: the most tasks (the main
//! one aside) and the most processes that ran at once. Colours (by
//! outcome) only on a terminal, and not with `NO_COLOR` set.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};

use nu_ansi_term::Color;

use super::{Ended, Event, Exit, Observer, Origin};

/// Rows shown when stderr is not a terminal.
const ROWS_OFF_TERMINAL: usize = 50;
/// Columns when the width is not known.
const DEFAULT_WIDTH: usize = 100;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Main,
    Task,
    Command,
}

struct Row {
    label: String,
    start: u64,
    end: u64,
    outcome: String,
    /// For the colour: `ok`, `failed`, `cancelled`, `timeout`, `killed`...
    class: &'static str,
    kind: Kind,
}

/// The rows of a run, collected as it goes.
pub struct Timeline {
    /// Where the chart goes: stderr, or this file (`--timeline=FILE`).
    file: Option<std::fs::File>,
    started: u64,
    tasks: HashMap<u64, (u64, String, Kind)>,
    commands: HashMap<u64, (u64, String)>,
    rows: Vec<Row>,
}

impl Timeline {
    /// A chart on stderr.
    pub fn new() -> Timeline {
        Timeline {
            file: None,
            started: super::clock::now(),
            tasks: HashMap::new(),
            commands: HashMap::new(),
            rows: Vec::new(),
        }
    }
}

impl Timeline {
    /// A chart written into `file`.
    pub fn to_file(file: std::fs::File) -> Timeline {
        Timeline {
            file: Some(file),
            ..Timeline::new()
        }
    }
}

impl Default for Timeline {
    fn default() -> Timeline {
        Timeline::new()
    }
}

impl Observer for Timeline {
    fn event(&mut self, at: u64, event: &Event<'_>) {
        match *event {
            Event::TaskStart {
                task, origin, name, ..
            } => {
                let (label, kind) = match origin {
                    Origin::Main => ("main".to_string(), Kind::Main),
                    _ => (format!("task {task} {name}"), Kind::Task),
                };
                self.tasks.insert(task, (at, label, kind));
            }
            Event::TaskEnd { task, ended, .. } => {
                if let Some((start, label, kind)) = self.tasks.remove(&task) {
                    let class = super::outcome(&ended);
                    let outcome = match ended {
                        Ended::Exit(code) => format!("exit {code}"),
                        _ => class.to_string(),
                    };
                    self.rows.push(Row {
                        label,
                        start,
                        end: at,
                        outcome,
                        class,
                        kind,
                    });
                }
            }
            Event::CommandStart { id, argv, .. } => {
                let mut label = String::from("$");
                for a in argv {
                    label.push(' ');
                    label.push_str(&a.to_string_lossy());
                    if label.len() > 200 {
                        break;
                    }
                }
                self.commands.insert(id, (at, label));
            }
            Event::CommandEnd { id, exit } => {
                if let Some((start, label)) = self.commands.remove(&id) {
                    let (outcome, class) = match exit {
                        Exit::Code(0) => ("ok".to_string(), "ok"),
                        Exit::Code(code) => (format!("exit {code}"), "failed"),
                        Exit::Signal(s) => (super::signal_name(s), "killed"),
                        Exit::NotStarted { status: 127, .. } => ("not found".to_string(), "failed"),
                        Exit::NotStarted { status, .. } => (format!("exit {status}"), "failed"),
                        Exit::Killed => ("killed".to_string(), "killed"),
                    };
                    self.rows.push(Row {
                        label,
                        start,
                        end: at,
                        outcome,
                        class,
                        kind: Kind::Command,
                    });
                }
            }
            _ => {}
        }
    }

    fn finish(&mut self, at: u64) {
        // What still runs is shown as such.
        for (_, (start, label, kind)) in self.tasks.drain() {
            self.rows.push(Row {
                label,
                start,
                end: at,
                outcome: "unfinished".into(),
                class: "unfinished",
                kind,
            });
        }
        for (_, (start, label)) in self.commands.drain() {
            self.rows.push(Row {
                label,
                start,
                end: at,
                outcome: "unfinished".into(),
                class: "unfinished",
                kind: Kind::Command,
            });
        }
        let stderr = std::io::stderr();
        let terminal = self.file.is_none() && stderr.is_terminal();
        let (width, height) = terminal_size(terminal);
        let max_rows = match height {
            Some(h) if terminal => h.saturating_sub(6).max(10),
            _ => ROWS_OFF_TERMINAL,
        };
        let color = terminal && crate::diag::colors_wanted();
        let text = render(
            std::mem::take(&mut self.rows),
            self.started,
            at,
            width,
            max_rows,
            color,
        );
        let _ = match &mut self.file {
            Some(f) => f.write_all(text.as_bytes()),
            None => stderr.lock().write_all(text.as_bytes()),
        };
    }
}

/// The width and height of the terminal on stderr (else `COLUMNS`, else
/// a default width).
fn terminal_size(terminal: bool) -> (usize, Option<usize>) {
    if terminal
        && let Ok(ws) = rustix::termios::tcgetwinsize(std::io::stderr())
        && ws.ws_col > 0
    {
        return (ws.ws_col.into(), Some(ws.ws_row.into()).filter(|&h| h > 0));
    }
    let columns = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .filter(|&c: &usize| c >= 20);
    (columns.unwrap_or(DEFAULT_WIDTH), None)
}

/// The chart: rows from `start` to `end` (nanoseconds), `width` columns.
fn render(
    mut rows: Vec<Row>,
    start: u64,
    end: u64,
    width: usize,
    max_rows: usize,
    color: bool,
) -> String {
    let total = end.saturating_sub(start).max(1);
    let (peak_tasks, peak_processes) = peaks(&rows);
    let count = rows.len();
    let tasks = rows.iter().filter(|r| r.kind == Kind::Task).count();
    let commands = rows.iter().filter(|r| r.kind == Kind::Command).count();
    let mut hidden = 0;
    if count > max_rows {
        rows.sort_by_key(|r| std::cmp::Reverse(r.end.saturating_sub(r.start)));
        hidden = count - max_rows;
        rows.truncate(max_rows);
    } else {
        rows.sort_by_key(|r| (r.start, r.kind != Kind::Main));
    }
    let paint = |c: Color, s: &str| {
        if color {
            c.paint(s).to_string()
        } else {
            s.to_string()
        }
    };
    let label_w = rows
        .iter()
        .map(|r| r.label.chars().count())
        .max()
        .unwrap_or(4)
        .clamp(4, 32);
    let outcome_w = rows
        .iter()
        .map(|r| r.outcome.chars().count())
        .max()
        .unwrap_or(2);
    // "  LABEL  BAR  DURATION  OUTCOME"
    let fixed = 2 + label_w + 2 + 2 + 9 + 2 + outcome_w;
    let bar_w = width.saturating_sub(fixed).max(10);
    let mut out = String::new();
    out.push_str(&format!(
        "ash: timeline: {tasks} {}, {commands} {}, {}\n",
        if tasks == 1 { "task" } else { "tasks" },
        if commands == 1 { "command" } else { "commands" },
        seconds(total)
    ));
    out.push_str(&format!(
        "  {:label_w$}  {}\n",
        "",
        axis(total, bar_w),
        label_w = label_w
    ));
    for r in &rows {
        let from = r.start.saturating_sub(start);
        let to = r.end.saturating_sub(start);
        let bar = bar(from, to, total, bar_w);
        let c = match r.class {
            "ok" => Color::Green,
            "cancelled" | "unfinished" => Color::Yellow,
            "timeout" => Color::Purple,
            "exit" => Color::Cyan,
            _ => Color::Red,
        };
        out.push_str(&format!(
            "  {}  {}  {:>9}  {}\n",
            pad(&r.label, label_w),
            paint(c, &bar),
            seconds(to - from),
            paint(c, &r.outcome)
        ));
    }
    if hidden > 0 {
        out.push_str(&format!("  ... and {hidden} shorter rows not shown\n"));
    }
    out.push_str(&format!(
        "  total {} · peak concurrency: {peak_tasks} {} and {peak_processes} {} at once\n",
        seconds(total),
        if peak_tasks == 1 { "task" } else { "tasks" },
        if peak_processes == 1 {
            "process"
        } else {
            "processes"
        },
    ));
    out
}

/// The most tasks (the main one aside) and the most processes running at once.
fn peaks(rows: &[Row]) -> (usize, usize) {
    let peak = |kind: Kind| {
        let mut edges: Vec<(u64, i32)> = rows
            .iter()
            .filter(|r| r.kind == kind)
            .flat_map(|r| [(r.start, 1), (r.end, -1)])
            .collect();
        // Ends before starts at the same instant.
        edges.sort_unstable();
        let (mut now, mut most) = (0i64, 0i64);
        for (_, d) in edges {
            now += i64::from(d);
            most = most.max(now);
        }
        most as usize
    };
    (peak(Kind::Task), peak(Kind::Command))
}

/// A bar from `from` to `to` of `total` in `w` cells: full blocks, the
/// last cell in eighths; at least a sliver.
fn bar(from: u64, to: u64, total: u64, w: usize) -> String {
    let eighths = |t: u64| (u128::from(t) * (w as u128) * 8 / u128::from(total)) as usize;
    let a = eighths(from).min(w * 8);
    let b = eighths(to).clamp(a + 1, w * 8).max(a + 1);
    let mut s = String::new();
    let first = a / 8;
    for _ in 0..first {
        s.push(' ');
    }
    let mut cell = first;
    // Cells fully covered.
    let mut pos = first * 8;
    if a % 8 != 0 {
        // A bar starting mid-cell starts in the next one (a right-aligned
        // eighth does not exist); a short one shows as a sliver here.
        if b <= (first + 1) * 8 {
            s.push('▏');
            cell += 1;
            return finish_bar(s, cell, w);
        }
        s.push(' ');
        cell += 1;
        pos = cell * 8;
    }
    while pos + 8 <= b {
        s.push('█');
        pos += 8;
        cell += 1;
    }
    let rest = b - pos;
    if rest > 0 && cell < w {
        s.push(['▏', '▎', '▍', '▌', '▋', '▊', '▉'][rest - 1]);
        cell += 1;
    }
    finish_bar(s, cell, w)
}

fn finish_bar(mut s: String, cell: usize, w: usize) -> String {
    for _ in cell..w {
        s.push(' ');
    }
    s
}

/// The axis line: tick labels at round times.
fn axis(total: u64, w: usize) -> String {
    let secs = total as f64 / 1e9;
    // A step of 1, 2 or 5 times a power of ten, about every 12 columns.
    let want = (w / 12).max(1) as f64;
    let raw = secs / want;
    let mag = libm::pow(10.0, libm::log10(raw).floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let mut line: Vec<char> = vec![' '; w + 12];
    let mut t = 0.0;
    while t <= secs + 1e-9 {
        let col = ((t / secs) * w as f64).round() as usize;
        let label = tick(t, step);
        if col + label.len() <= line.len() && line[col..col + label.len()].iter().all(|c| *c == ' ')
        {
            for (i, ch) in label.chars().enumerate() {
                line[col + i] = ch;
            }
        }
        t += step;
    }
    line.into_iter().collect::<String>().trim_end().to_string()
}

fn tick(t: f64, step: f64) -> String {
    if step >= 1.0 {
        format!("|{t:.0}s")
    } else if step >= 0.01 {
        format!("|{:.0}ms", t * 1000.0)
    } else {
        format!("|{:.1}ms", t * 1000.0)
    }
}

/// A duration: `1.23 s`, `45 ms`, `120 µs`.
fn seconds(ns: u64) -> String {
    let s = ns as f64 / 1e9;
    if s >= 1.0 {
        format!("{s:.2} s")
    } else if s >= 0.001 {
        format!("{:.0} ms", s * 1e3)
    } else {
        format!("{:.0} µs", s * 1e6)
    }
}

/// `text` cut or padded to `w` characters.
fn pad(text: &str, w: usize) -> String {
    let n = text.chars().count();
    if n <= w {
        format!("{text}{}", " ".repeat(w - n))
    } else {
        let mut s: String = text.chars().take(w - 1).collect();
        s.push('…');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(label: &str, start: u64, end: u64, kind: Kind) -> Row {
        Row {
            label: label.into(),
            start,
            end,
            outcome: "ok".into(),
            class: "ok",
            kind,
        }
    }

    #[test]
    fn bars_cover_their_share_of_the_axis() {
        assert_eq!(bar(0, 100, 100, 10), "██████████");
        assert_eq!(bar(0, 50, 100, 10), "█████     ");
        assert_eq!(bar(50, 100, 100, 10), "     █████");
        // Shorter than a cell: still seen.
        assert_eq!(bar(0, 1, 1000, 10).trim_end(), "▏");
        for (a, b) in [(0, 3), (7, 9), (13, 77), (99, 100)] {
            assert_eq!(bar(a, b, 100, 10).chars().count(), 10);
        }
    }

    #[test]
    fn the_longest_rows_are_shown_when_not_all_fit() {
        let rows = (0..20)
            .map(|i| row(&format!("r{i}"), 0, (i + 1) * 1_000_000, Kind::Task))
            .collect();
        let text = render(rows, 0, 20_000_000, 80, 5, false);
        let shown: Vec<&str> = text
            .lines()
            .filter_map(|l| l.trim_start().split(' ').next())
            .filter(|w| w.starts_with('r'))
            .collect();
        assert_eq!(shown, ["r19", "r18", "r17", "r16", "r15"]);
        assert!(text.contains("15 shorter rows not shown"), "{text}");
        for line in text.lines() {
            assert!(line.chars().count() <= 80, "too wide: {line:?}");
        }
    }

    #[test]
    fn peaks_count_tasks_and_processes_apart() {
        let rows = vec![
            row("main", 0, 10, Kind::Main),
            row("a", 0, 5, Kind::Task),
            row("b", 1, 6, Kind::Task),
            row("c", 5, 9, Kind::Task),
            row("$ x", 2, 3, Kind::Command),
        ];
        assert_eq!(peaks(&rows), (2, 1));
    }
}
