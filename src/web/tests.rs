//! The pages rendered from states made of events: the demo story, a hostile log whose ids are markup, a
//! taint; what each page shows, what a bad URL says, and that the same state renders the same bytes.

use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;

use super::*;
use crate::events::{self, stamped};
use crate::live::LiveOptions;
use crate::log::{EventWriter, LogFormat};
use crate::proto::DataBuildEvent;
use crate::views;

/// The pages of a daemon that has loaded `events` from a log file.
struct Daemon {
    pages: WebPages,
    live: Arc<Live>,
    _dir: tempfile::TempDir,
}

fn daemon(events: &[DataBuildEvent]) -> Daemon {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.bel");
    let mut writer = EventWriter::new(std::fs::File::create(&path).unwrap(), LogFormat::Binary);
    for event in events {
        writer.write(event).unwrap();
    }
    writer.into_inner().unwrap();
    let live = Arc::new(Live::new());
    live.start(&path, LiveOptions { notify: false, ..LiveOptions::default() });
    let loaded = live.wait_until(Duration::from_secs(20), |state, tail| {
        !tail.loading && state.events_applied() == events.len() as u64
    });
    assert!(loaded, "the daemon did not load the log");
    Daemon { pages: WebPages::new(live.clone()), live, _dir: dir }
}

/// The JSON a lineage page embeds for its graph.
fn embedded_json(html: &str) -> Option<&str> {
    const OPEN: &str = r#"<script type="application/json" id="lineage-data">"#;
    let start = html.find(OPEN)? + OPEN.len();
    let len = html[start..].find("</script>")?;
    Some(&html[start..start + len])
}

fn demo() -> Daemon {
    daemon(&events::demo_events())
}

impl Daemon {
    /// A page's HTML, or panics with what came instead.
    fn render(&self, path: &str, query: Option<&str>) -> String {
        match self.pages.reply(path, query) {
            Reply::Html { status: StatusCode::OK, body } => body,
            other => panic!("{path}: {other:?}"),
        }
    }

    fn error(&self, path: &str, query: Option<&str>) -> (StatusCode, String) {
        match self.pages.reply(path, query) {
            Reply::Html { status, body } if status != StatusCode::OK => (status, body),
            other => panic!("{path}: expected an error page, got {other:?}"),
        }
    }

    fn digest(&self) -> String {
        self.live.read().digest()
    }
}

#[test]
fn the_want_page_collapses_retries_and_nests_derivative_wants() {
    let html = demo().render("/wants/W-001", None);
    let chain = html.find(r#"<details class="chain" id="chain-W-001-0-0">"#).expect("a collapsed retry chain");
    let derivative = html.find(r#"href="/wants/W-002""#).expect("the derivative want");
    assert!(chain < derivative, "W-002 is nested under the chain whose dep miss created it");
    assert!(html.contains("DepMiss → retry → Succeeded"));
    for run in ["JR-123", "JR-789", "JR-456"] {
        assert!(html.contains(&format!(r#"href="/job-runs/{run}""#)), "{run}");
    }
    assert!(html.contains(r#"href="/partitions/ad92881c-f799-550a-92da-b8741062ba9c""#));
    assert!(html.contains(r#"data-subscribe="{&#34;refs&#34;:[&#34;data/alpha&#34;"#), "{html}");
    let expanded = demo().render("/wants/W-001", Some("expandRetries=true"));
    assert!(expanded.contains(">attempt 1<") && expanded.contains(">attempt 2<"), "{expanded}");
    assert!(!expanded.contains("<details class=\"chain\""), "every attempt is its own node");
}

#[test]
fn the_job_run_page_shows_reads_with_uuids_history_and_retries() {
    let html = demo().render("/job-runs/JR-789", None);
    for expected in [
        r#"href="/wants/W-001""#,
        r#"href="/partitions/d1305448-db69-5062-8c23-837705b1ceef""#,
        r#"href="/partitions/4184e8af-ea6a-534f-b409-0ecce94ad1df""#,
        r#"title="ad92881c-f799-550a-92da-b8741062ba9c""#,
        "event 15",
        "(this run)",
        r#"data-run="JR-789">Succeeded<"#,
    ] {
        assert!(html.contains(expected), "lacks {expected}");
    }
    let dep_miss = demo().render("/job-runs/JR-123", None);
    assert!(dep_miss.contains(r#"href="/wants/W-002""#) && dep_miss.contains("missing"), "{dep_miss}");
}

#[test]
fn the_partition_page_by_ref_or_uuid_shows_the_instance_and_its_history() {
    let by_ref = demo().render("/partitions/data%2Fgamma", None);
    let by_uuid = demo().render("/partitions/9f063420-802a-5225-a3a7-316815e43eb4", None);
    assert!(by_ref.contains("(this instance)") && by_ref.contains(r#"href="/job-runs/JR-789""#));
    assert!(by_uuid.contains("This is an older instance of its ref."), "{by_uuid}");
    for html in [&by_ref, &by_uuid] {
        assert!(html.contains(r#"href="/partitions/ad92881c-f799-550a-92da-b8741062ba9c""#));
        assert!(html.contains(r#"href="/partitions/9f063420-802a-5225-a3a7-316815e43eb4""#), "history");
    }
    let source = demo().render("/partitions/data/alpha", None);
    assert!(source.contains("an external source") && source.contains("Consumers <span class=\"count\">2</span>"));
}

#[test]
fn the_lineage_page_embeds_the_rpc_result_and_lists_every_node() {
    let demo = demo();
    let html = demo.render("/lineage/data%2Falpha", Some("direction=downstream&fanoutLimit=1"));
    let data: serde_json::Value = serde_json::from_str(embedded_json(&html).unwrap()).unwrap();
    let expected = views::lineage(
        &demo.live.read(),
        &views::LineageParams {
            partition_ref: Some("data/alpha".into()),
            direction: views::Direction::Downstream,
            fanout_limit: 1,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(data["response"], serde_json::to_value(&expected).unwrap());
    assert_eq!(data["response"]["data"]["truncated"][0]["more"], 1);
    assert_eq!(data["params"]["uuid"], "4184e8af-ea6a-534f-b409-0ecce94ad1df");
    assert!(html.contains("+1 more") && html.contains(r#"<option value="downstream" selected>"#), "{html}");
    let list_them =
        "/lineage/4184e8af-ea6a-534f-b409-0ecce94ad1df?direction=downstream&#38;depth=1&#38;fanoutLimit=1000";
    assert!(html.contains(list_them), "the cut list, for a page without scripts: {html}");
}

#[test]
fn the_home_page_shows_the_daemon_and_recent_entities_newest_first() {
    let demo = demo();
    let html = demo.render("/", None);
    let (w2, w1) = (html.find(r#"href="/wants/W-002""#).unwrap(), html.find(r#"href="/wants/W-001""#).unwrap());
    assert!(w2 < w1, "newest first");
    assert!(html.contains("3 job runs") && html.contains("4 partition instances of 3 refs"), "{html}");
    assert!(html.contains(&demo.digest()), "{html}");

    let empty = daemon(&[]).render("/", None);
    assert!(empty.contains("No wants in the log yet.") && empty.contains("No job runs in the log yet."));
}

#[test]
fn search_goes_to_one_match_lists_several_and_says_when_there_is_none() {
    let state = demo();
    assert!(matches!(state.pages.reply( "/search", Some("q=JR-456")), Reply::Redirect(to) if to == "/job-runs/JR-456"));
    assert!(
        matches!(state.pages.reply("/search", Some("q=+data%2Fbeta+")), Reply::Redirect(to) if to == "/partitions/data%2Fbeta")
    );
    let listed = state.render("/search", Some("q=data%2F"));
    assert!(listed.contains(r#"href="/partitions/data%2Fbeta""#) && listed.contains(r#"href="/wants/W-001""#));
    let none = state.render("/search", Some("q=zzz"));
    assert!(none.contains("Nothing in this log is called &#34;zzz&#34;"), "{none}");
    // A want and a job run with the same id: both listed.
    let mut events = events::demo_events();
    events.extend(stamped(vec![events::want_create("JR-456", &["data/beta"], events::manual("x"))]));
    let both = daemon(&events).render("/search", Some("q=JR-456"));
    assert!(both.contains(">want<") && both.contains(">job run<"), "{both}");
}

#[test]
fn unknown_ids_and_bad_params_get_error_pages_that_name_them() {
    let state = demo();
    let cases = [
        ("/wants/W-9", None, StatusCode::NOT_FOUND, "There is no want W-9 in this log."),
        ("/job-runs/JR-9", None, StatusCode::NOT_FOUND, "There is no job run JR-9 in this log."),
        ("/partitions/data%2Fx", None, StatusCode::NOT_FOUND, "There is no partition ref data/x in this log."),
        ("/lineage/d1305448-db69-5062-8c23", None, StatusCode::NOT_FOUND, "not a valid instance UUID either"),
        ("/lineage/data%2Fbeta", Some("upDepth=200"), StatusCode::BAD_REQUEST, "upDepth: 200 is more than 100"),
        ("/lineage/data%2Fbeta", Some("direction=up"), StatusCode::BAD_REQUEST, "direction: &#34;up&#34; is not"),
        ("/wants/W-001", Some("expand=1"), StatusCode::BAD_REQUEST, "unknown query parameter &#34;expand&#34;"),
    ];
    for (path, query, status, message) in cases {
        let (got, body) = state.error(path, query);
        assert_eq!(got, status, "{path}");
        assert!(body.contains(message), "{path} lacks {message:?}: {body}");
    }
}

#[test]
fn log_text_is_escaped_in_html_and_in_the_embedded_json() {
    let evil_ref = "</script><img src=x onerror=alert(1)>";
    let evil_want = "<b>W\"'&";
    let events = stamped(vec![
        events::want_create(evil_want, &[evil_ref], events::manual("<i>mallory</i>")),
        events::job_run_buffer("JR-<x>", "//jobs:<evil>", &[evil_ref], &[evil_want]),
        events::job_run_success("JR-<x>", events::read_deps::<&str>(&[(&[], &["\u{2028}<src>"])])),
    ]);
    let state = daemon(&events);
    let pages = [
        format!("/wants/{}", href::encode(evil_want)),
        "/job-runs/JR-%3Cx%3E".to_string(),
        format!("/partitions/{}", href::encode(evil_ref)),
        format!("/lineage/{}", href::encode(evil_ref)),
        "/".to_string(),
    ];
    for path in pages {
        let html = state.render(&path, None);
        for raw in ["<img", "<b>", "<i>", "<x>", "<evil>", "<src>", "onerror=alert(1)>"] {
            assert!(!html.contains(raw), "{path} shows {raw} unescaped");
        }
        assert_eq!(html.matches("</script>").count(), html.matches("<script").count(), "{path}");
        if let Some(json) = embedded_json(&html) {
            assert!(!json.contains('\u{2028}') && !json.contains('<'), "{path}: {json}");
            assert_eq!(serde_json::from_str::<serde_json::Value>(json).unwrap()["params"]["depth"], 3);
        }
    }
}

#[test]
fn the_same_state_renders_the_same_bytes() {
    let (one, other) = (demo(), demo());
    for (path, query) in [("/wants/W-001", None), ("/job-runs/JR-123", None), ("/lineage/data%2Fbeta", Some("depth=2"))]
    {
        assert_eq!(one.render(path, query), other.render(path, query), "{path}");
    }
    // The home page differs only in the log's path.
    let home = |d: &Daemon| {
        let html = d.render("/", None);
        let path = d.live.tail_status().log_path.unwrap();
        html.replace(&path, "LOG")
    };
    assert_eq!(home(&one), home(&other));
}

#[test]
fn a_status_change_shows_on_the_next_render() {
    let mut events = events::demo_events();
    events.extend(stamped(vec![events::taint_create("T-1", &["data/beta"], events::manual("bob"))]));
    let html = daemon(&events).render("/partitions/data%2Fbeta", None);
    assert!(html.contains(r#"data-part="d1305448-db69-5062-8c23-837705b1ceef">Tainted<"#), "{html}");
    assert!(html.contains("<code>T-1</code>") && html.contains("active"), "{html}");
}
