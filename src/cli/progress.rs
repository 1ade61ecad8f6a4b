//! What `easel imagine` shows while its tasks run. On a terminal: one line of progress bars
//! (one per task of a `{a, b}` permutation) with the time so far, redrawn in place, and notes
//! such as retries printed above it. Anywhere else (a pipe, a log file, CI): a plain line per
//! change, `task 1: 37%`, which stays readable in a log and easy to grep.

use std::io::{IsTerminal, Stdout, Write};
use std::time::Instant;

use crate::base::TaskId;

/// Width of one task's bar; several tasks share a narrower width, so that four of them and
/// the time still fit in 80 columns.
const BAR_WIDTH: usize = 24;
const SHARED_WIDTH: usize = 16;

pub struct ProgressDisplay<W: Write> {
    out: W,
    terminal: bool,
    /// Each task and its percentage so far.
    tasks: Vec<(TaskId, u8)>,
    started: Instant,
    /// Whether a bar line is on screen (and must be cleared before anything else is printed).
    drawn: bool,
}

impl ProgressDisplay<Stdout> {
    /// Bars when standard output is a terminal, plain lines otherwise.
    pub fn stdout(tasks: &[TaskId]) -> Self {
        let out = std::io::stdout();
        let terminal = out.is_terminal();
        ProgressDisplay::new(out, terminal, tasks)
    }
}

impl<W: Write> ProgressDisplay<W> {
    pub fn new(out: W, terminal: bool, tasks: &[TaskId]) -> Self {
        let tasks = tasks.iter().map(|id| (*id, 0)).collect();
        ProgressDisplay { out, terminal, tasks, started: Instant::now(), drawn: false }
    }

    pub fn progress(&mut self, id: TaskId, percent: u8) {
        if !self.terminal {
            let _ = writeln!(self.out, "task {id}: {percent}%");
            return;
        }
        if let Some(task) = self.tasks.iter_mut().find(|(t, _)| *t == id) {
            task.1 = percent.min(100);
        }
        self.draw();
    }

    /// A line that stays (a retry, say), printed above the bars.
    pub fn note(&mut self, text: &str) {
        self.clear();
        let _ = writeln!(self.out, "{text}");
        if self.terminal {
            self.draw();
        }
    }

    /// A task reached its end: its bar fills (the result line comes later).
    pub fn finished(&mut self, id: TaskId) {
        if self.terminal {
            self.progress(id, 100);
        }
    }

    /// Takes the bars off the screen, so what follows starts on a clean line.
    pub fn finish(&mut self) {
        self.clear();
    }

    fn clear(&mut self) {
        if self.drawn {
            // Back to the line's start and erase it.
            let _ = write!(self.out, "\r\x1b[2K");
            let _ = self.out.flush();
            self.drawn = false;
        }
    }

    fn draw(&mut self) {
        let several = self.tasks.len() > 1;
        let width = if several { (SHARED_WIDTH / self.tasks.len()).max(4) } else { BAR_WIDTH };
        let mut line = String::new();
        for (id, percent) in &self.tasks {
            let filled = width * usize::from(*percent) / 100;
            let bar = format!("{}{}", "█".repeat(filled), "░".repeat(width - filled));
            let label = if several { format!("#{id}") } else { format!("task {id}") };
            line.push_str(&format!("{label} [{bar}] {percent:>3}%  "));
        }
        line.push_str(&format!("{:.1} s", self.started.elapsed().as_secs_f32()));
        let _ = write!(self.out, "\r\x1b[2K{line}");
        let _ = self.out.flush();
        self.drawn = true;
    }
}

#[cfg(test)]
mod tests {
    use super::ProgressDisplay;

    fn text(display: ProgressDisplay<Vec<u8>>) -> String {
        String::from_utf8(display.out).unwrap()
    }

    #[test]
    fn without_a_terminal_each_change_is_a_line() {
        let mut d = ProgressDisplay::new(Vec::new(), false, &[1]);
        d.progress(1, 25);
        d.note("task 1: attempt 1 failed (timeout); retrying in 1.0 s");
        d.progress(1, 75);
        d.finished(1);
        d.finish();
        assert_eq!(
            text(d),
            "task 1: 25%\ntask 1: attempt 1 failed (timeout); retrying in 1.0 s\ntask 1: 75%\n"
        );
    }

    #[test]
    fn one_task_gets_a_wide_bar() {
        let mut d = ProgressDisplay::new(Vec::new(), true, &[7]);
        d.progress(7, 25);
        let out = text(d);
        assert!(out.starts_with("\r\x1b[2Ktask 7 [██████░░░░░░░░░░░░░░░░░░]  25%  "), "{out:?}");
    }

    #[test]
    fn on_a_terminal_one_line_of_bars_is_redrawn_in_place() {
        let mut d = ProgressDisplay::new(Vec::new(), true, &[1, 2]);
        d.progress(1, 50);
        d.note("retrying");
        d.progress(2, 100);
        d.finish();
        let out = text(d);
        assert!(!out.contains("task 1: 50%"), "{out:?}");
        let redraws: Vec<&str> = out.split("\r\x1b[2K").collect();
        assert!(redraws[1].starts_with("#1 [████░░░░]  50%  #2 [░░░░░░░░]   0%  "), "{out:?}");
        assert!(redraws[1].ends_with(" s"), "the time so far: {out:?}");
        assert_eq!(redraws[2], "retrying\n", "a note clears the bars and stays");
        assert!(redraws[3].starts_with("#1 [████░░░░]  50%"), "the bars come back: {out:?}");
        assert!(redraws[4].contains("#2 [████████] 100%"), "{out:?}");
        assert_eq!(redraws.last(), Some(&""), "finish leaves a clean line: {out:?}");
    }
}
