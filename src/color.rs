//! Colour for people at a terminal, never for pipes: `--color auto` (the default) colours stdout
//! or stderr only when it is a terminal and `NO_COLOR` is not set (https://no-color.org: any
//! non-empty value); `always` and `never` force it. Uncoloured output is byte-identical to what
//! it was before colour existed.

use std::io::IsTerminal;
use std::sync::OnceLock;

use anstyle::{AnsiColor, Color, Effects, Style};

/// `--color`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

static CHOICE: OnceLock<ColorChoice> = OnceLock::new();

/// Records the command line's choice (once, at start).
pub fn init(choice: ColorChoice) {
    let _ = CHOICE.set(choice);
}

/// What the text is, which decides its style.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The header section (the browser decoder's red).
    Header,
    /// The payload section (its purple).
    Payload,
    /// The signature section (its blue).
    Signature,
    /// Secondary text: dates and notes.
    Dim,
    /// A warning a reader must not miss: "NOT verified", `alg: none`.
    Warning,
    /// An error line's prefix.
    Error,
}

fn style(role: Role) -> Style {
    let fg = |c: AnsiColor| Style::new().fg_color(Some(Color::Ansi(c)));
    match role {
        Role::Header => fg(AnsiColor::Red).effects(Effects::BOLD),
        Role::Payload => fg(AnsiColor::Magenta).effects(Effects::BOLD),
        Role::Signature => fg(AnsiColor::Blue).effects(Effects::BOLD),
        Role::Dim => Style::new().effects(Effects::DIMMED),
        Role::Warning => fg(AnsiColor::Yellow).effects(Effects::BOLD),
        Role::Error => fg(AnsiColor::Red).effects(Effects::BOLD),
    }
}

/// Paints text for one stream, or leaves it as it is.
#[derive(Clone, Copy, Debug)]
pub struct Palette {
    on: bool,
}

impl Palette {
    /// Whether to colour a stream: the choice, the terminal and `NO_COLOR`.
    pub fn decide(choice: ColorChoice, is_terminal: bool, no_color: Option<&str>) -> Palette {
        let on = match choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => is_terminal && no_color.is_none_or(str::is_empty),
        };
        Palette { on }
    }

    /// `text` in the role's style (unchanged when colour is off).
    pub fn paint(&self, role: Role, text: &str) -> String {
        if !self.on || text.is_empty() {
            return text.to_owned();
        }
        let style = style(role);
        format!("{style}{text}{style:#}")
    }
}

fn palette(is_terminal: bool) -> Palette {
    let choice = CHOICE.get().copied().unwrap_or_default();
    let no_color = std::env::var("NO_COLOR").ok();
    Palette::decide(choice, is_terminal, no_color.as_deref())
}

/// The palette for standard output.
pub fn stdout() -> Palette {
    palette(std::io::stdout().is_terminal())
}

/// The palette for standard error.
pub fn stderr() -> Palette {
    palette(std::io::stderr().is_terminal())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_colours_only_a_terminal_without_no_color() {
        let on = |c, t, n| Palette::decide(c, t, n).on;
        assert!(on(ColorChoice::Auto, true, None));
        assert!(on(ColorChoice::Auto, true, Some("")));
        assert!(!on(ColorChoice::Auto, true, Some("1")));
        assert!(!on(ColorChoice::Auto, false, None));
        assert!(on(ColorChoice::Always, false, Some("1")));
        assert!(!on(ColorChoice::Never, true, None));
    }

    #[test]
    fn painting_off_is_the_identity() {
        let off = Palette { on: false };
        assert_eq!(off.paint(Role::Header, "Header"), "Header");
        let on = Palette { on: true };
        assert_eq!(
            on.paint(Role::Header, "Header"),
            "\u{1b}[1m\u{1b}[31mHeader\u{1b}[0m"
        );
        assert_eq!(on.paint(Role::Dim, ""), "");
    }
}
