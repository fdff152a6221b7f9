//! Text from outside (Overstock, a message, a file, a command line) as this product treats it:
//! one rule for what may be stored and sent as an identifier or a note, one escape for what is
//! printed to an operator's terminal.
//!
//! - A **control character** is a Unicode `Cc` (C0, DEL, C1: ESC, BEL, CR, LF, TAB …) or a
//!   bidirectional or invisible formatting character (U+200B–U+200F, U+202A–U+202E,
//!   U+2060–U+2069, U+FEFF), which reorder or hide what a reader sees.
//! - Identifiers and free text that go back to Overstock (order and line numbers, SKUs, refund
//!   notes, codes) and settings typed by an operator are **refused** when they hold one:
//!   Overstock answers such a message 400, and an identifier that prints differently from what
//!   it is cannot be checked by a person.
//! - Everything printed is passed through [`escape`]: a control character is shown as `\u{1b}`,
//!   a backslash as `\\`, so nothing from outside moves a cursor, clears a screen or sets a title.

use std::borrow::Cow;
use std::fmt;

/// Whether `c` is a control character in the sense above.
pub fn is_control(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

/// Whether `s` holds a control character.
pub fn has_control(s: &str) -> bool {
    s.chars().any(is_control)
}

/// Why a value was refused, naming what it is and never its text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("{0} is empty")]
    Empty(&'static str),
    #[error("{what} holds a control character (at character {at})")]
    Control { what: &'static str, at: usize },
    #[error("{what} is longer than {max} characters")]
    TooLong { what: &'static str, max: usize },
}

/// `s` without control characters, else which character is one (counted from 1).
pub fn check_no_control(what: &'static str, s: &str) -> Result<(), TextError> {
    match s.chars().position(is_control) {
        Some(i) => Err(TextError::Control { what, at: i + 1 }),
        None => Ok(()),
    }
}

/// A value typed by an operator or sent by another system that is stored and shown: trimmed,
/// not empty, at most `max` characters, no control character.
pub fn plain(what: &'static str, s: &str, max: usize) -> Result<String, TextError> {
    let t = s.trim();
    if t.is_empty() {
        return Err(TextError::Empty(what));
    }
    check_no_control(what, t)?;
    if t.chars().count() > max {
        return Err(TextError::TooLong { what, max });
    }
    Ok(t.to_owned())
}

/// `s` safe to print on a terminal: control characters as `\u{…}`, backslashes doubled (so an
/// escape in the text cannot pass for one of ours). Borrowed when nothing needs escaping.
pub fn escape(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| is_control(c) || c == '\\') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c == '\\' {
            out.push_str("\\\\");
        } else if is_control(c) {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A value printed through [`escape`], for `format!` and `tracing` fields alike.
pub struct Shown<'a>(pub &'a str);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&escape(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn control_characters_of_every_kind_are_found() {
        for bad in [
            "a\u{1b}[2Jb",
            "\u{7}",
            "a\rb",
            "x\ny",
            "t\tab",
            "\u{7f}",
            "\u{9b}31m",
            "\u{202e}evil",
            "\u{200b}",
            "\u{feff}x",
        ] {
            assert!(has_control(bad), "{bad:?}");
            assert!(plain("a name", &format!("x{bad}"), 100).is_err(), "{bad:?}");
        }
        for good in ["OSTK-1", "Café Déjà", "Ünïcødé 漢字", "a & b <c>", "O'Brien"] {
            assert!(!has_control(good), "{good:?}");
        }
        assert_eq!(check_no_control("note", "ab\u{1b}c"), Err(TextError::Control { what: "note", at: 3 }));
    }

    #[test]
    fn plain_values_are_trimmed_and_empty_ones_refused() {
        assert_eq!(plain("a name", "  Acme  ", 10).as_deref(), Ok("Acme"));
        assert_eq!(plain("a name", "   ", 10), Err(TextError::Empty("a name")));
        assert_eq!(plain("a name", "", 10), Err(TextError::Empty("a name")));
        assert!(matches!(plain("a name", "abcdefghijk", 10), Err(TextError::TooLong { .. })));
        let e = plain("a name", "x\u{1b}y", 10).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("control character") && !e.contains('\u{1b}'), "never echoed: {e:?}");
    }

    #[test]
    fn escaping_shows_control_characters_and_keeps_the_rest() {
        assert_eq!(escape("plain text"), Cow::Borrowed("plain text"));
        assert_eq!(escape("a\u{1b}]0;title\u{7}b"), "a\\u{1b}]0;title\\u{7}b");
        assert_eq!(escape("c:\\u{1b}"), "c:\\\\u{1b}", "a backslash cannot forge an escape");
        assert_eq!(escape("\u{202e}x"), "\\u{202e}x");
        assert_eq!(Shown("x\ny").to_string(), "x\\u{a}y");
    }

    proptest! {
        /// Whatever comes in, what is printed holds no control character.
        #[test]
        fn nothing_escaped_holds_a_control_character(s in any::<String>()) {
            prop_assert!(!has_control(&escape(&s)));
        }
    }
}
