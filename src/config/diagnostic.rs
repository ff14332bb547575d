//! Precise reports for mistakes in user files (config, keymap, theme): the file, line:col, the
//! offending value quoted, and what is accepted — printed rustc-style.

use std::fmt;
use std::ops::Range;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Info,
    Warning,
    Error,
}

/// One finding in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub file: String,
    pub line: usize,
    pub col: usize,
    /// The source line the finding points at (for the caret display).
    pub source_line: String,
    pub message: String,
    pub help: Option<String>,
}

impl Diagnostic {
    /// A finding at byte `span` of `text` (the contents of `file`).
    pub fn at(
        severity: Severity,
        file: &str,
        text: &str,
        span: Range<usize>,
        message: impl Into<String>,
        help: Option<String>,
    ) -> Diagnostic {
        let (line, col) = line_col(text, span.start);
        let source_line = text
            .lines()
            .nth(line.saturating_sub(1))
            .unwrap_or("")
            .to_string();
        Diagnostic {
            severity,
            file: file.to_string(),
            line,
            col,
            source_line,
            message: message.into(),
            help,
        }
    }

    /// A TOML syntax error from the `toml` crate, located by its span.
    pub fn from_toml(file: &str, text: &str, error: &toml::de::Error) -> Diagnostic {
        let span = error.span().unwrap_or(0..0);
        Diagnostic::at(
            Severity::Error,
            file,
            text,
            span,
            error.message().trim().to_string(),
            None,
        )
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = match self.severity {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        };
        writeln!(f, "{label}: {}", self.message)?;
        if self.line == 0 {
            writeln!(f, "  --> {}", self.file)?;
        } else {
            writeln!(f, "  --> {}:{}:{}", self.file, self.line, self.col)?;
        }
        if !self.source_line.is_empty() {
            let gutter = self.line.to_string();
            writeln!(f, "{:width$} |", "", width = gutter.len())?;
            writeln!(f, "{gutter} | {}", self.source_line)?;
            writeln!(
                f,
                "{:width$} | {:pad$}^",
                "",
                "",
                width = gutter.len(),
                pad = self.col.saturating_sub(1)
            )?;
        }
        if let Some(help) = &self.help {
            writeln!(f, "help: {help}")?;
        }
        Ok(())
    }
}

/// Render several diagnostics, errors first.
pub fn render_all(diagnostics: &[Diagnostic]) -> String {
    let mut sorted: Vec<&Diagnostic> = diagnostics.iter().collect();
    sorted.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.line.cmp(&b.line)));
    sorted
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The closest candidate to `word` by edit distance, if it is close enough to be a likely typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            current.push(
                (previous[j] + cost)
                    .min(previous[j + 1] + 1)
                    .min(current[j] + 1),
            );
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_and_renders_with_a_caret() {
        let text = "[global]\nquit = [\"ctrl-qq\"]\n";
        let start = text.find("\"ctrl-qq\"").unwrap();
        let d = Diagnostic::at(
            Severity::Error,
            "keymap.toml",
            text,
            start..start + 9,
            "unknown key 'ctrl-qq'",
            Some("keys look like 'ctrl-k', 'f12', 'g e'".into()),
        );
        assert_eq!((d.line, d.col), (2, 9));
        let shown = d.to_string();
        assert!(shown.contains("--> keymap.toml:2:9"), "{shown}");
        assert!(shown.contains("2 | quit = [\"ctrl-qq\"]"), "{shown}");
        assert!(shown.contains("  |         ^"), "{shown}");
    }

    #[test]
    fn suggests_near_misses_only() {
        let names = ["kill_switch", "quit", "help"];
        assert_eq!(did_you_mean("kill_swich", names), Some("kill_switch"));
        assert_eq!(did_you_mean("qiut", names), Some("quit"));
        assert_eq!(did_you_mean("zzzzzzzz", names), None);
    }
}
