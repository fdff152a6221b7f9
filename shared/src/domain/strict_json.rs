//! JSON as other systems send it, read strictly: an object that names a key twice is refused
//! (most parsers keep the last copy, so `company_id` twice would record a request under another
//! company than the sender meant). Checked on the raw text before any value is taken from it.

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::collections::HashSet;
use std::fmt;

/// Walks a JSON document and fails on the first object holding a key twice, naming the key's
/// path (`lines[1].line`). Other syntax errors are left to the parser that reads the values.
pub fn check_no_duplicate_keys(body: &str) -> Result<(), String> {
    let mut de = serde_json::Deserializer::from_str(body);
    match (Walk { path: String::new() }).deserialize(&mut de) {
        Ok(()) => Ok(()),
        Err(e) => {
            let text = e.to_string();
            match text.strip_prefix(DUPLICATE) {
                // serde_json appends " at line L column C": the path is what matters.
                Some(rest) => Err(rest.split(" at line ").next().unwrap_or(rest).to_owned()),
                None => Ok(()),
            }
        }
    }
}

const DUPLICATE: &str = "duplicate key: ";

struct Walk {
    path: String,
}

impl<'de> DeserializeSeed<'de> for Walk {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0usize;
        while seq.next_element_seed(Walk { path: format!("{}[{i}]", self.path) })?.is_some() {
            i += 1;
        }
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = if self.path.is_empty() { key.clone() } else { format!("{}.{key}", self.path) };
            if !seen.insert(key) {
                return Err(de::Error::custom(format!("{DUPLICATE}{}", super::text::escape(&path))));
            }
            map.next_value_seed(Walk { path })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A key written as JSON, plainly or with every character as a `\\u` escape.
    fn spelled(key: &str, escaped: bool) -> String {
        if escaped { key.encode_utf16().map(|u| format!("\\u{u:04x}")).collect() } else { key.to_owned() }
    }

    proptest! {
        /// Any object, at any depth, naming a key twice (however the second is spelled) is
        /// refused naming its path; the same object without the repeat passes.
        #[test]
        fn any_key_named_twice_is_found(
            keys in proptest::collection::btree_set("[a-z_é漢]{1,6}", 1..6),
            pick in any::<proptest::sample::Index>(),
            escaped in any::<bool>(),
            depth in 0usize..4,
        ) {
            let keys: Vec<String> = keys.into_iter().collect();
            let fields = |extra: Option<&str>| {
                let mut f: Vec<String> = keys.iter().enumerate().map(|(i, k)| format!("\"{}\":{i}", spelled(k, false))).collect();
                if let Some(k) = extra {
                    f.push(format!("\"{}\":\"again\"", spelled(k, escaped)));
                }
                format!("{{{}}}", f.join(","))
            };
            let nest = |inner: String| (0..depth).fold(inner, |doc, _| format!("{{\"outer\":[1,{doc}]}}"));
            let twice = &keys[pick.index(keys.len())];
            prop_assert_eq!(check_no_duplicate_keys(&nest(fields(None))), Ok(()));
            let found = check_no_duplicate_keys(&nest(fields(Some(twice))));
            let path = (0..depth).fold(String::new(), |p, _| if p.is_empty() { "outer[1]".to_owned() } else { format!("outer[1].{p}") });
            let want = if path.is_empty() { twice.clone() } else { format!("{path}.{twice}") };
            prop_assert_eq!(found, Err(want));
        }
    }

    #[test]
    fn a_key_named_twice_is_found_at_any_depth() {
        assert_eq!(check_no_duplicate_keys(r#"{"company_id":"a","x":1,"company_id":"b"}"#), Err("company_id".into()));
        assert_eq!(
            check_no_duplicate_keys(r#"{"lines":[{"line":"1"},{"line":"2","amount":"1","line":"3"}]}"#),
            Err("lines[1].line".into())
        );
        assert_eq!(check_no_duplicate_keys(r#"{"a":{"b":{"c":1,"c":2}}}"#), Err("a.b.c".into()));
        // The same key in two objects, or an escaped spelling of another key, is no duplicate;
        // an escaped spelling of the same key is.
        assert_eq!(check_no_duplicate_keys(r#"{"a":{"k":1},"b":{"k":2}}"#), Ok(()));
        assert_eq!(check_no_duplicate_keys(r#"{"k":1,"\u006b":2}"#), Err("k".into()));
        assert_eq!(check_no_duplicate_keys(r#"{"k":1,"K":2}"#), Ok(()));
        // Syntax errors are the value parser's to report.
        assert_eq!(check_no_duplicate_keys("{not json"), Ok(()));
        assert_eq!(check_no_duplicate_keys("[1,2,{}]"), Ok(()));
    }
}
