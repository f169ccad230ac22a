//! Names of administrative divisions (GB/T 2260), for display: pages show 沂源县 rather than
//! 370323. The table is data (`workflows/data/jurisdictions.tsv`), compiled in; a code it does
//! not name is shown as the code. Nothing decides anything on a name: scope and nesting are
//! always computed on codes (`domain::JurisdictionCode`).

use std::collections::HashMap;
use std::sync::OnceLock;

const TABLE: &str = include_str!("../data/jurisdictions.tsv");

fn table() -> &'static HashMap<&'static str, &'static str> {
    static NAMES: OnceLock<HashMap<&'static str, &'static str>> = OnceLock::new();
    NAMES.get_or_init(|| {
        TABLE
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .filter_map(|l| l.split_once('\t'))
            .map(|(code, name)| (code.trim(), name.trim()))
            .collect()
    })
}

/// The division's name, when the table knows it.
pub fn name(code: &str) -> Option<&'static str> {
    table().get(code).copied()
}

/// The name when known, else the code: what a page shows.
pub fn label(code: &str) -> String {
    name(code).map_or_else(|| code.to_string(), str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_is_a_six_digit_code_and_a_name_and_codes_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for (n, line) in TABLE.lines().enumerate() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let (code, name) = line
                .split_once('\t')
                .unwrap_or_else(|| panic!("line {}: no tab in {line:?}", n + 1));
            assert!(
                code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()),
                "line {}: {code:?} is not a GB/T 2260 code",
                n + 1
            );
            assert!(!name.trim().is_empty(), "line {}: no name", n + 1);
            assert!(seen.insert(code), "line {}: {code} named twice", n + 1);
        }
        assert!(seen.len() > 60, "{} names", seen.len());
    }

    #[test]
    fn known_codes_have_names_and_unknown_ones_show_the_code() {
        assert_eq!(name("370323"), Some("沂源县"));
        assert_eq!(name("370300"), Some("淄博市"));
        assert_eq!(name("370000"), Some("山东省"));
        assert_eq!(label("370399"), "370399");
    }
}
