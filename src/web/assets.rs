//! The pages' static files, embedded in the binary: the style sheet, the live-update script, the lineage
//! graph (dagre and its drawing, bundled by esbuild from `web/` into the committed `web/dist/graph.js`)
//! and the icon. Nothing is fetched from elsewhere: the pages work offline.

use std::sync::OnceLock;

#[derive(Debug, PartialEq, Eq)]
pub struct Asset {
    pub name: &'static str,
    pub content_type: &'static str,
    pub body: &'static str,
}

impl Asset {
    /// A strong ETag: a hash of the contents, so a browser revalidates cheaply.
    pub fn etag(&self) -> &'static str {
        static TAGS: OnceLock<Vec<String>> = OnceLock::new();
        let tags = TAGS.get_or_init(|| {
            ASSETS.iter().map(|a| format!("\"{}\"", &blake3::hash(a.body.as_bytes()).to_hex()[..16])).collect()
        });
        let at = ASSETS.iter().position(|a| a.name == self.name).expect("an embedded asset");
        &tags[at]
    }
}

const JS: &str = "text/javascript; charset=utf-8";

pub static ASSETS: [Asset; 4] = [
    Asset { name: "style.css", content_type: "text/css; charset=utf-8", body: include_str!("assets/style.css") },
    Asset { name: "live.js", content_type: JS, body: include_str!("assets/live.js") },
    Asset { name: "graph.js", content_type: JS, body: include_str!("../../web/dist/graph.js") },
    Asset { name: "favicon.svg", content_type: "image/svg+xml", body: include_str!("assets/favicon.svg") },
];

/// The asset served at `/assets/{name}`.
pub fn find(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_is_found_and_tagged() {
        for asset in &ASSETS {
            assert_eq!(find(asset.name), Some(asset));
            assert!(!asset.body.is_empty(), "{}", asset.name);
            assert_eq!(asset.etag().len(), 18, "{}", asset.name);
        }
        assert_ne!(ASSETS[0].etag(), ASSETS[1].etag());
        assert_eq!(find("../Cargo.toml"), None);
    }
}
