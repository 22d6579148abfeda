//! Small text helpers shared by the renderers: short UUIDs, timestamps, status colours.

/// The first 8 hex digits of a UUID, as the trees show it.
pub fn short_uuid(uuid: &str) -> &str {
    uuid.get(..8).unwrap_or(uuid)
}

pub use crate::calendar::format_timestamp;

/// Paints text in ANSI colours when `on`.
#[derive(Debug, Clone, Copy)]
pub struct Paint {
    pub on: bool,
}

impl Paint {
    fn wrap(self, code: &str, text: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    /// A status or state name, coloured by what it means.
    pub fn status(self, name: &str) -> String {
        let code = match name {
            "Live" | "Succeeded" | "Successful" => "32",
            "Failed" | "UpstreamFailed" => "31",
            "DepMiss" | "Building" | "Running" | "Queued" | "UpstreamBuilding" | "New" => "33",
            "Tainted" => "35",
            "External" => "36",
            "Canceled" => "2",
            _ => "0",
        };
        self.wrap(code, name)
    }

    /// A status chain like `DepMiss → retry → Succeeded`, each status coloured.
    pub fn chain(self, statuses: &[&str]) -> String {
        statuses.iter().map(|s| self.status(s)).collect::<Vec<_>>().join(" → retry → ")
    }

    pub fn bold(self, text: &str) -> String {
        self.wrap("1", text)
    }

    pub fn dim(self, text: &str) -> String {
        self.wrap("2", text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_utc() {
        assert_eq!(format_timestamp(1_750_000_000_000), "2025-06-15 15:06:40.000");
    }

    #[test]
    fn short_uuids_and_colour() {
        assert_eq!(short_uuid("d1305448-db69-5062-8c23-837705b1ceef"), "d1305448");
        assert_eq!(short_uuid("abc"), "abc");
        assert_eq!(Paint { on: false }.status("Live"), "Live");
        assert_eq!(Paint { on: true }.status("Live"), "\x1b[32mLive\x1b[0m");
    }
}
