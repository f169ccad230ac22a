//! Value types shared by commands and events: money, jurisdictions, officials, evidence.

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// An amount of money in fen (分, 1/100 yuan). Never a float: public money is counted exactly.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Fen(pub i64);

impl Fen {
    pub const ZERO: Fen = Fen(0);

    /// The largest amount one command may carry: 10^12 fen, ¥100 亿 (10 billion yuan), far
    /// above any single subsidy and far below 2^53, so that every amount and every sum of a
    /// project's amounts is an exact JSON number for any reader.
    pub const MAX_AMOUNT: Fen = Fen(1_000_000_000_000);

    pub fn checked_add(self, other: Fen) -> Option<Fen> {
        self.0.checked_add(other.0).map(Fen)
    }

    pub fn checked_sub(self, other: Fen) -> Option<Fen> {
        self.0.checked_sub(other.0).map(Fen)
    }

    /// Adds amounts already recorded in events (in `apply`, which may not fail: old events must
    /// always load). Every recorded amount passed [`Fen::MAX_AMOUNT`] and the per-source
    /// ceilings when it was decided, so a project's sums stay below 2^53 and this addition
    /// never reaches the i64 limit; if a forged log ever made it, the sum stops at `i64::MAX`
    /// rather than wrapping to a negative balance, and the chain verification names the forgery.
    pub fn add_recorded(self, other: Fen) -> Fen {
        Fen(self.0.saturating_add(other.0))
    }

    pub fn saturating_sub(self, other: Fen) -> Fen {
        Fen(self.0.saturating_sub(other.0))
    }
}

impl fmt::Display for Fen {
    /// Formats as yuan with two decimals and thousands separators, e.g. `¥1,234,567.89`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let yuan = (abs / 100).to_string();
        let mut grouped = String::with_capacity(yuan.len() + yuan.len() / 3);
        for (i, ch) in yuan.chars().enumerate() {
            if i > 0 && (yuan.len() - i).is_multiple_of(3) {
                grouped.push(',');
            }
            grouped.push(ch);
        }
        write!(f, "{sign}¥{grouped}.{:02}", abs % 100)
    }
}

/// A GB/T 2260 administrative division code: six digits naming a province (`370000`),
/// a city (`370300`) or a county (`370323`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct JurisdictionCode(String);

/// The administrative level a [`JurisdictionCode`] names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JurisdictionLevel {
    Province,
    City,
    County,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{code}' is not a GB/T 2260 division code: {reason}")]
pub struct JurisdictionCodeError {
    pub code: String,
    pub reason: &'static str,
}

impl JurisdictionCode {
    pub fn parse(code: &str) -> Result<Self, JurisdictionCodeError> {
        let err = |reason| JurisdictionCodeError {
            code: code.to_string(),
            reason,
        };
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err("it must be exactly six digits"));
        }
        // Province prefixes run from 11 (Beijing) to 82 (Macao); anything else is a typo.
        let province: u32 = code[..2].parse().expect("two ASCII digits");
        if !(11..=82).contains(&province) {
            return Err(err("the first two digits must name a province (11–82)"));
        }
        if &code[2..4] == "00" && &code[4..] != "00" {
            return Err(err("a county code needs a city part (digits 3–4 are 00)"));
        }
        Ok(Self(code.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn level(&self) -> JurisdictionLevel {
        if &self.0[2..] == "0000" {
            JurisdictionLevel::Province
        } else if &self.0[4..] == "00" {
            JurisdictionLevel::City
        } else {
            JurisdictionLevel::County
        }
    }

    /// Whether a grant on `self` covers `other`: a province covers its cities and counties,
    /// a city its counties, and every code covers itself.
    pub fn covers(&self, other: &JurisdictionCode) -> bool {
        match self.level() {
            JurisdictionLevel::Province => self.0[..2] == other.0[..2],
            JurisdictionLevel::City => self.0[..4] == other.0[..4],
            JurisdictionLevel::County => self.0 == other.0,
        }
    }

    /// The enclosing province code (`370323` → `370000`).
    pub fn province(&self) -> JurisdictionCode {
        Self(format!("{}0000", &self.0[..2]))
    }

    /// The enclosing city code, or `None` for a province.
    pub fn city(&self) -> Option<JurisdictionCode> {
        match self.level() {
            JurisdictionLevel::Province => None,
            _ => Some(Self(format!("{}00", &self.0[..4]))),
        }
    }
}

impl TryFrom<String> for JurisdictionCode {
    type Error = JurisdictionCodeError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<JurisdictionCode> for String {
    fn from(value: JurisdictionCode) -> Self {
        value.0
    }
}

impl fmt::Display for JurisdictionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A reference to a document that justifies a step: a circular number (文号), a minutes
/// reference, a scanned file's identifier. Stored with the event, never the document itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentRef {
    /// What the document is, e.g. `县财政局拨款通知`.
    pub title: String,
    /// Its reference, e.g. `源财字〔2021〕12号`, or a file identifier.
    pub reference: String,
    /// Optional SHA-256 of the scanned file, so an auditor can match the paper to the record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// Who issues a command and on what evidence. It is not part of the command's business
/// content: the store writes it into the metadata of every event the command produces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandContext {
    /// The acting user's login name.
    pub actor: String,
    #[serde(default)]
    pub evidence: Vec<DocumentRef>,
}

/// Metadata keys written by [`CommandContext::to_metadata`].
pub mod metadata_keys {
    pub const ACTOR: &str = "actor";
    pub const EVIDENCE: &str = "evidence";
    pub const COMMAND: &str = "command";
}

impl CommandContext {
    pub fn new(actor: impl Into<String>) -> Self {
        Self {
            actor: actor.into(),
            evidence: Vec::new(),
        }
    }

    pub fn with_evidence(mut self, doc: DocumentRef) -> Self {
        self.evidence.push(doc);
        self
    }

    /// The event metadata for a command: cqrs-es keeps metadata as string pairs, so the
    /// evidence list is stored as a JSON array in one string.
    pub fn to_metadata(&self, command: &str) -> HashMap<String, String> {
        HashMap::from([
            (metadata_keys::ACTOR.to_string(), self.actor.clone()),
            (
                metadata_keys::EVIDENCE.to_string(),
                serde_json::to_string(&self.evidence).expect("document refs serialize"),
            ),
            (metadata_keys::COMMAND.to_string(), command.to_string()),
        ])
    }
}

/// A responsible official named for a project (seed 000, annex 4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Official {
    pub name: String,
    /// 职务, e.g. `副局长`.
    pub post: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    pub email: String,
    /// Language of the reminder e-mails: `zh` (default) or `en`.
    #[serde(default = "default_language")]
    pub language: String,
}

fn default_language() -> String {
    "zh".to_string()
}

/// The construction entity (建设主体) that does the work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConstructionEntity {
    pub name: String,
    /// 统一社会信用代码: 18 characters.
    pub credit_code: String,
    /// A courier company, locker operator, village committee…
    pub kind: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fen_displays_as_yuan_with_separators() {
        assert_eq!(Fen(123_456_789).to_string(), "¥1,234,567.89");
        assert_eq!(Fen(5).to_string(), "¥0.05");
        assert_eq!(Fen(-100_000).to_string(), "-¥1,000.00");
    }

    #[test]
    fn jurisdiction_codes_nest() {
        let shandong = JurisdictionCode::parse("370000").unwrap();
        let zibo = JurisdictionCode::parse("370300").unwrap();
        let yiyuan = JurisdictionCode::parse("370323").unwrap();
        let jinan = JurisdictionCode::parse("370100").unwrap();
        assert_eq!(yiyuan.level(), JurisdictionLevel::County);
        assert!(shandong.covers(&yiyuan));
        assert!(zibo.covers(&yiyuan));
        assert!(!jinan.covers(&yiyuan));
        assert!(!yiyuan.covers(&zibo));
        assert_eq!(yiyuan.city(), Some(zibo));
        assert_eq!(yiyuan.province(), shandong);
    }

    #[test]
    fn malformed_jurisdiction_codes_are_refused_with_the_reason() {
        assert!(JurisdictionCode::parse("37032").is_err());
        assert!(JurisdictionCode::parse("99xx00").is_err());
        let err = JurisdictionCode::parse("990000").unwrap_err();
        assert!(err.to_string().contains("province"));
        assert!(JurisdictionCode::parse("370012").is_err());
    }
}
