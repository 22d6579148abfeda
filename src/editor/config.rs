//! Editor configuration, from `initializationOptions` and `workspace/didChangeConfiguration`.
//!
//! Both accept the settings flat (`{"eventLog": ..}`) or under a `databuild` section
//! (`{"databuild": {"eventLog": ..}}`, which is what VS Code sends for `synchronize.configurationSection`).
//! Keys that are absent keep their current value; unknown keys are ignored.

use serde_json::Value;

use super::scan::RefScanner;

pub const DEFAULT_FANOUT_LIMIT: usize = 20;

/// What the editor features can be told.
#[derive(Debug, Clone)]
pub struct EditorConfig {
    /// `eventLog`: the BEL to serve when `dbl serve` was started without `--log`.
    pub event_log: Option<String>,
    /// `refPatterns`: regexes for refs the log has not mentioned yet (see [`super::scan`]).
    pub ref_patterns: Vec<String>,
    /// `fanoutLimit`: how many upstream/downstream refs to list before "+N more".
    pub fanout_limit: usize,
    /// Compiled `ref_patterns`.
    pub scanner: RefScanner,
}

impl Default for EditorConfig {
    fn default() -> Self {
        EditorConfig {
            event_log: None,
            ref_patterns: Vec::new(),
            fanout_limit: DEFAULT_FANOUT_LIMIT,
            scanner: RefScanner::default(),
        }
    }
}

impl EditorConfig {
    /// Applies the settings in `value` over the current ones. On an error (a wrong type, a regex that
    /// does not compile) nothing is changed and the message names the setting.
    pub fn update(&mut self, value: &Value) -> Result<(), String> {
        let settings = match value.get("databuild") {
            Some(section) if section.is_object() => section,
            _ => value,
        };
        let Some(settings) = settings.as_object() else {
            return if settings.is_null() { Ok(()) } else { Err("settings must be a JSON object".into()) };
        };
        let mut next = self.clone();
        if let Some(v) = settings.get("eventLog") {
            next.event_log = match v {
                Value::Null => None,
                Value::String(s) if s.is_empty() => None,
                Value::String(s) => Some(s.clone()),
                _ => return Err("eventLog must be a string (a path to the build event log)".into()),
            };
        }
        if let Some(v) = settings.get("refPatterns") {
            next.ref_patterns = match v {
                Value::Null => Vec::new(),
                Value::Array(items) => items
                    .iter()
                    .map(|item| item.as_str().map(str::to_string).ok_or("refPatterns must be an array of strings"))
                    .collect::<Result<_, _>>()?,
                _ => return Err("refPatterns must be an array of strings (regular expressions)".into()),
            };
            next.scanner = RefScanner::new(&next.ref_patterns)?;
        }
        if let Some(v) = settings.get("fanoutLimit") {
            next.fanout_limit = match v {
                Value::Null => DEFAULT_FANOUT_LIMIT,
                _ => match v.as_u64() {
                    Some(n) if n >= 1 => n.min(10_000) as usize,
                    _ => return Err("fanoutLimit must be a positive integer".into()),
                },
            };
        }
        *self = next;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn flat_and_sectioned_settings() {
        let mut config = EditorConfig::default();
        config.update(&json!({"eventLog": "/tmp/bel.jsonl", "fanoutLimit": 3})).unwrap();
        assert_eq!(config.event_log.as_deref(), Some("/tmp/bel.jsonl"));
        assert_eq!(config.fanout_limit, 3);
        config.update(&json!({"databuild": {"refPatterns": ["data/\\w+"], "eventLog": ""}})).unwrap();
        assert_eq!(config.event_log, None);
        assert_eq!(config.ref_patterns, vec!["data/\\w+".to_string()]);
        assert!(config.scanner.has_patterns());
        assert_eq!(config.fanout_limit, 3, "absent keys keep their value");
        config.update(&Value::Null).unwrap();
        assert_eq!(config.fanout_limit, 3);
    }

    #[test]
    fn bad_settings_change_nothing() {
        let mut config = EditorConfig::default();
        let err = config.update(&json!({"fanoutLimit": 5, "refPatterns": ["("]})).unwrap_err();
        assert!(err.contains("refPatterns"), "{err}");
        assert_eq!(config.fanout_limit, DEFAULT_FANOUT_LIMIT);
        assert_eq!(config.update(&json!({"fanoutLimit": 0})).unwrap_err(), "fanoutLimit must be a positive integer");
        assert!(config.update(&json!({"eventLog": 7})).unwrap_err().starts_with("eventLog must be a string"));
        assert!(config.update(&json!([1])).is_err());
    }
}
