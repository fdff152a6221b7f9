//! Text from outside (Overstock, a message, a file, a command line) as this product treats it:
//! one rule for what may be stored and sent as an identifier or a note, one escape for what is
//! printed to an operator's terminal.
//!
//! - A **control character** is any character whose Unicode general category makes it act on
//!   the text instead of showing in it, or show as nothing: `Cc` (C0, DEL, C1: ESC, BEL, CR, LF,
//!   TAB …), `Cf` (every format character: the bidirectional marks, embeddings, overrides and
//!   isolates, zero-width spaces and joiners, the soft hyphen, the byte-order mark, tag
//!   characters …), `Zl` and `Zp` (line and paragraph separators), `Zs` other than the ASCII
//!   space (no-break and other spaces that print like one), `Co` (private use), `Cs`
//!   (surrogates) and `Cn` (unassigned, noncharacters). By category, not by a list: a character
//!   no list names is judged by the same rule.
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
    use unicode_general_category::{GeneralCategory as G, get_general_category};
    match get_general_category(c) {
        G::Control
        | G::Format
        | G::LineSeparator
        | G::ParagraphSeparator
        | G::PrivateUse
        | G::Surrogate
        | G::Unassigned => true,
        G::SpaceSeparator => c != ' ',
        _ => false,
    }
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

/// The longest rejection text kept, in characters (after [`scrub`]).
pub const MAX_SCRUBBED_CHARS: usize = 200;

/// A text from outside that may quote customer data (Overstock's rejection messages have held a
/// customer's name, street and phone), in the form this product keeps, logs and shows: the
/// words that cannot be a person's or a place's kept, everything else replaced by `…`, bounded
/// to [`MAX_SCRUBBED_CHARS`]. A word is kept when it is
/// - one of `named` (the identifiers of the element the text is about: order, line, SKU),
/// - a word of ASCII letters, digits, `_`, `'` and `-` starting with a lower-case letter
///   (`quantity`, `salesChannelLineNumber`, `supplier's`: the API's words; a name or a street
///   is capitalised), or
/// - a number of at most three digits (a quantity, a line: not a phone, a postcode or a house
///   number of four digits and more),
///
/// with the punctuation around it. Anything else (a capitalised word, a longer number, an
/// e-mail, text in another script) is replaced, runs of them by one `…`. What is lost is data,
/// never the kind of problem: the API's own words and the element's identifiers remain.
pub fn scrub(text: &str, named: &[&str]) -> String {
    let kept = |core: &str| {
        core.is_empty()
            || named.iter().any(|n| !n.is_empty() && *n == core)
            || (core.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
                && core.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'\'' | b'-')))
            || (core.len() <= 3 && core.bytes().all(|b| b.is_ascii_digit()))
    };
    let mut out = String::new();
    let mut masked = false;
    for word in text.split_whitespace() {
        let core = word.trim_matches(|c: char| c.is_ascii_punctuation());
        let piece = if kept(core) && !has_control(word) {
            masked = false;
            word.to_owned()
        } else if masked {
            continue;
        } else {
            masked = true;
            // The punctuation around a replaced word stays (a list keeps its commas).
            let lead: String = word.chars().take_while(|c| c.is_ascii_punctuation()).collect();
            let trail: String = word
                .chars()
                .rev()
                .take_while(|c| c.is_ascii_punctuation())
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            if lead.len() == word.len() { word.to_owned() } else { format!("{lead}…{trail}") }
        };
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&piece);
    }
    if out.chars().count() > MAX_SCRUBBED_CHARS {
        out = out.chars().take(MAX_SCRUBBED_CHARS - 1).collect::<String>() + "…";
    }
    out
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
            // Named by no list: found by their category.
            "\u{061c}",  // ARABIC LETTER MARK (Cf)
            "\u{00ad}",  // SOFT HYPHEN (Cf)
            "\u{180e}",  // MONGOLIAN VOWEL SEPARATOR (Cf)
            "\u{2028}",  // LINE SEPARATOR (Zl)
            "\u{2029}",  // PARAGRAPH SEPARATOR (Zp)
            "\u{00a0}",  // NO-BREAK SPACE (Zs)
            "\u{3000}",  // IDEOGRAPHIC SPACE (Zs)
            "\u{e000}",  // private use (Co)
            "\u{fffe}",  // a noncharacter (Cn)
            "\u{e0041}", // TAG LATIN CAPITAL LETTER A (Cf)
            "\u{1d173}", // MUSICAL SYMBOL BEGIN BEAM (Cf)
            "\u{fff9}",  // INTERLINEAR ANNOTATION ANCHOR (Cf)
        ] {
            assert!(has_control(bad), "{bad:?}");
            assert!(plain("a name", &format!("x{bad}y"), 100).is_err(), "{bad:?}");
        }
        for good in ["OSTK-1", "Café Déjà", "Ünïcødé 漢字", "a & b <c>", "O'Brien", "e\u{301}", "😀", "Ω≈ç√"]
        {
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

    #[test]
    fn a_rejection_text_keeps_the_apis_words_and_never_a_customer() {
        let text = "Order OSTK-1 line 1: ship to Jane O'Brien, 1234 Main St, Salt Lake City UT 84101, \
                    phone 801-555-0100, jane@example.com is undeliverable; quantity 3 above 2 open";
        let s = scrub(text, &["OSTK-1", "1"]);
        for gone in ["Jane", "O'Brien", "1234", "Main", "Salt", "84101", "801-555-0100", "jane@example.com"] {
            assert!(!s.contains(gone), "{gone} kept: {s}");
        }
        for kept in ["OSTK-1", "line 1:", "ship to", "is undeliverable;", "quantity 3 above 2 open"] {
            assert!(s.contains(kept), "{kept} lost: {s}");
        }
        assert_eq!(
            scrub("salesChannelLineNumber is not a line of the order", &[]),
            "salesChannelLineNumber is not a line of the order"
        );
        assert_eq!(scrub("<supplierRefund> is missing <line>", &[]), "<supplierRefund> is missing <line>");
        assert_eq!(
            scrub("partnerSKU is not in the supplier's catalog", &[]),
            "partnerSKU is not in the supplier's catalog"
        );
        assert_eq!(scrub("Jane Doe, Bob", &[]), "…");
        assert!(scrub(&"word ".repeat(200), &[]).chars().count() <= MAX_SCRUBBED_CHARS);
    }

    proptest! {
        /// Whatever the text, a capitalised word, a number of four digits or more, or a word in
        /// another script never survives, and the result is bounded.
        #[test]
        fn nothing_that_could_be_a_name_or_a_number_survives_scrubbing(
            words in proptest::collection::vec("[A-Z][a-z]{1,8}|[0-9]{4,12}|[a-z]{1,8}|[0-9]{1,3}|[a-zé]{2,6}@[a-z]{2,5}\\.com|\\PC{1,6}", 0..40),
        ) {
            let text = words.join(" ");
            let s = scrub(&text, &[]);
            prop_assert!(s.chars().count() <= MAX_SCRUBBED_CHARS);
            for w in s.split_whitespace() {
                let core = w.trim_matches(|c: char| c.is_ascii_punctuation() || c == '…');
                prop_assert!(
                    core.is_empty()
                        || (core.bytes().next().is_some_and(|b| b.is_ascii_lowercase()) && core.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'\'' | b'-')))
                        || (core.len() <= 3 && core.bytes().all(|b| b.is_ascii_digit())),
                    "{:?} kept from {:?}", w, text
                );
            }
        }
    }

    proptest! {
        /// Whatever comes in, what is printed holds no control character.
        #[test]
        fn nothing_escaped_holds_a_control_character(s in any::<String>()) {
            prop_assert!(!has_control(&escape(&s)));
        }

        /// The rule is the category: any character of a refused category, anywhere in a value,
        /// refuses it; a value of letters, marks, numbers, punctuation and symbols passes.
        #[test]
        fn a_value_is_refused_exactly_when_it_holds_a_refused_category(s in any::<String>()) {
            use unicode_general_category::{GeneralCategory as G, get_general_category};
            let refused = s.chars().any(|c| {
                matches!(
                    get_general_category(c),
                    G::Control | G::Format | G::LineSeparator | G::ParagraphSeparator | G::PrivateUse | G::Surrogate | G::Unassigned
                ) || (get_general_category(c) == G::SpaceSeparator && c != ' ')
            });
            prop_assert_eq!(check_no_control("a value", &s).is_err(), refused);
        }
    }
}
