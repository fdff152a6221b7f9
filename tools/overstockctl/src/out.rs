//! Everything overstockctl prints goes through here: order numbers, SKUs, warehouse names,
//! Overstock's messages and every other value from outside may hold control characters (a
//! clear-screen, a set-title), and none reaches the operator's terminal raw.
//!
//! - [`say!`] prints one formatted line (or several): every control character of the text is
//!   shown escaped (`\u{1b}`), only the line breaks of the format itself are kept.
//! - Table cells are escaped whole, line breaks included ([`crate::table::Table::row`]).
//! - [`json`] prints JSON with every control character as a `\uXXXX` escape (serde_json leaves
//!   DEL, C1 and the bidirectional controls raw).

use shared::domain::text::{escape, is_control};

/// Escapes every control character but `\n` (the output's own line structure).
pub fn text(s: &str) -> String {
    s.split('\n').map(|l| escape(l).into_owned()).collect::<Vec<_>>().join("\n")
}

/// Prints a formatted line with its control characters escaped.
macro_rules! say {
    ($($arg:tt)*) => {
        println!("{}", $crate::out::text(&format!($($arg)*)))
    };
}
pub(crate) use say;

/// Prints an error line (stderr) with its control characters escaped.
macro_rules! warn_line {
    ($($arg:tt)*) => {
        eprintln!("{}", $crate::out::text(&format!($($arg)*)))
    };
}
pub(crate) use warn_line;

/// `value` as pretty JSON, control characters escaped inside strings.
pub fn json_text<T: serde::Serialize>(value: &T) -> serde_json::Result<String> {
    let raw = serde_json::to_string_pretty(value)?;
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        if is_control(c) && c != '\n' {
            // Inside a JSON string (serde_json already escaped the C0 controls there), or the
            // layout's own whitespace, which holds no other control character. A character
            // beyond the BMP is written as its UTF-16 surrogate pair, as JSON requires.
            for unit in c.encode_utf16(&mut [0u16; 2]) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

/// Prints `value` as pretty JSON (see [`json_text`]).
pub fn json<T: serde::Serialize>(value: &T) -> serde_json::Result<()> {
    println!("{}", json_text(value)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printed_text_holds_no_control_character() {
        let hostile = "OSTK-1\u{1b}[2J\u{1b}]0;pwned\u{7}\r\u{9b}31m\u{202e}x";
        let line = text(&format!("order {hostile}\nnext line"));
        assert!(!line.chars().any(|c| is_control(c) && c != '\n'), "{line:?}");
        assert_eq!(line.lines().count(), 2);
        assert!(line.contains("\\u{1b}[2J"));
        let j = json_text(&serde_json::json!({"order": hostile})).unwrap_or_default();
        assert!(!j.chars().any(|c| is_control(c) && c != '\n'), "{j:?}");
        let back: serde_json::Value = serde_json::from_str(&j).unwrap_or_default();
        assert_eq!(back["order"], hostile, "still the same JSON value");
    }

    proptest::proptest! {
        /// Any text, control characters of every category and beyond the BMP included, prints as
        /// JSON that holds none of them and reads back to the same value.
        #[test]
        fn any_text_prints_as_valid_json_without_control_characters(s in proptest::prelude::any::<String>()) {
            let j = json_text(&serde_json::json!({"v": s})).unwrap_or_default();
            proptest::prop_assert!(!j.chars().any(|c| is_control(c) && c != '\n'), "{:?}", j);
            let back: serde_json::Value = serde_json::from_str(&j).unwrap_or_default();
            proptest::prop_assert_eq!(back["v"].as_str(), Some(s.as_str()));
        }
    }
}
