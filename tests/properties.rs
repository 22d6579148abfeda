//! Properties of the log and state layers over random logs.

use dbl::events::*;
use dbl::log::{encode_record, Decoder, LogFormat, LogRecord};
use dbl::proto::{data_build_event::Event, DataBuildEvent};
use dbl::state::BuildState;
use proptest::prelude::*;

/// One step of a random build story over a small world, so ids collide and stories interleave.
#[derive(Debug, Clone)]
enum Op {
    Want { want: u8, refs: Vec<u8>, parent_run: Option<u8> },
    CancelWant(u8),
    Buffer { run: u8, label: u8, refs: Vec<u8>, wants: Vec<u8> },
    Queue(u8),
    Heartbeat(u8),
    Success { run: u8, deps: Vec<(Vec<u8>, Vec<u8>)> },
    Failure(u8),
    Cancel(u8),
    DepMiss { run: u8, missing: Vec<u8> },
    Taint { taint: u8, refs: Vec<u8> },
    CancelTaint(u8),
}

fn small() -> impl Strategy<Value = u8> {
    0u8..8
}

fn refs() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(small(), 0..4)
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (small(), refs(), prop::option::of(small())).prop_map(|(want, refs, parent_run)| Op::Want {
            want,
            refs,
            parent_run
        }),
        small().prop_map(Op::CancelWant),
        (0u8..40, 0u8..3, refs(), prop::collection::vec(small(), 0..3))
            .prop_map(|(run, label, refs, wants)| Op::Buffer { run, label, refs, wants }),
        (0u8..40).prop_map(Op::Queue),
        (0u8..40).prop_map(Op::Heartbeat),
        (0u8..40, prop::collection::vec((refs(), refs()), 0..3)).prop_map(|(run, deps)| Op::Success { run, deps }),
        (0u8..40).prop_map(Op::Failure),
        (0u8..40).prop_map(Op::Cancel),
        (0u8..40, refs()).prop_map(|(run, missing)| Op::DepMiss { run, missing }),
        (small(), refs()).prop_map(|(taint, refs)| Op::Taint { taint, refs }),
        small().prop_map(Op::CancelTaint),
    ]
}

fn names(prefix: &str, ids: &[u8]) -> Vec<String> {
    ids.iter().map(|i| format!("{prefix}{i}")).collect()
}

fn to_event(op: &Op) -> Event {
    let run = |r: &u8| format!("JR-{r}");
    match op {
        Op::Want { want, refs, parent_run } => want_create(
            &format!("W-{want}"),
            &names("data/p", refs),
            parent_run.map(|r| job_triggered(&run(&r))).unwrap_or_else(|| manual("prop")),
        ),
        Op::CancelWant(w) => want_cancel(&format!("W-{w}"), None),
        Op::Buffer { run: r, label, refs, wants } => {
            let wants = names("W-", wants);
            let wants: Vec<&str> = wants.iter().map(String::as_str).collect();
            job_run_buffer(&run(r), &format!("//jobs:{label}"), &names("data/p", refs), &wants)
        }
        Op::Queue(r) => job_run_queue(&run(r)),
        Op::Heartbeat(r) => job_run_heartbeat(&run(r)),
        Op::Success { run: r, deps } => {
            let deps: Vec<(Vec<String>, Vec<String>)> =
                deps.iter().map(|(i, rd)| (names("data/p", i), names("data/p", rd))).collect();
            let pairs: Vec<(&[String], &[String])> = deps.iter().map(|(i, r)| (&i[..], &r[..])).collect();
            job_run_success(&run(r), read_deps(&pairs))
        }
        Op::Failure(r) => job_run_failure(&run(r), "boom"),
        Op::Cancel(r) => job_run_cancel(&run(r), None),
        Op::DepMiss { run: r, missing } => {
            job_run_missing_deps(&run(r), &[(&[] as &[String], &names("data/p", missing)[..])], vec![])
        }
        Op::Taint { taint, refs } => taint_create(&format!("T-{taint}"), &names("data/p", refs), None),
        Op::CancelTaint(t) => taint_cancel(&format!("T-{t}"), None),
    }
}

fn events(ops: &[Op]) -> Vec<DataBuildEvent> {
    let mut seq = EventSeq::starting_at(1_700_000_000_000);
    ops.iter().map(|op| seq.next(17, to_event(op))).collect()
}

fn encode(events: &[DataBuildEvent], format: LogFormat) -> Vec<u8> {
    let mut bytes = Vec::new();
    for e in events {
        encode_record(e, format, &mut bytes);
    }
    bytes
}

fn decode_in_chunks(bytes: &[u8], cuts: &[usize]) -> Vec<LogRecord> {
    let mut decoder = Decoder::new();
    let mut records = Vec::new();
    let mut at = 0;
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    cuts.sort_unstable();
    for cut in cuts.into_iter().chain([bytes.len()]) {
        decoder.feed(&bytes[at..cut], &mut |r| records.push(r)).expect("valid log");
        at = cut;
    }
    assert_eq!(decoder.consumed_bytes(), bytes.len() as u64);
    records
}

fn replay(records: &[LogRecord]) -> BuildState {
    let mut state = BuildState::new();
    for r in records {
        state.apply(&r.event, r.offset);
    }
    state
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// The daemon's path (chunked bytes, one event at a time, change recording on) agrees with a
    /// fresh replay of each prefix.
    #[test]
    fn incremental_application_equals_fresh_replay_at_every_prefix(
        ops in prop::collection::vec(op(), 0..60),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
        json in any::<bool>(),
    ) {
        let events = events(&ops);
        let format = if json { LogFormat::JsonLines } else { LogFormat::Binary };
        let bytes = encode(&events, format);
        let mut live = BuildState::new();
        live.set_recording(true);
        let records = decode_in_chunks(&bytes, &cuts);
        prop_assert_eq!(records.len(), events.len());
        for (n, record) in records.iter().enumerate() {
            live.apply(&record.event, record.offset);
            live.take_changes();
            prop_assert_eq!(live.digest(), replay(&records[..=n]).digest(), "prefix of {} events", n + 1);
        }
    }

    #[test]
    fn chunked_decoding_equals_whole_decoding(
        ops in prop::collection::vec(op(), 0..40),
        cuts in prop::collection::vec(any::<usize>(), 0..16),
        json in any::<bool>(),
    ) {
        let events = events(&ops);
        let format = if json { LogFormat::JsonLines } else { LogFormat::Binary };
        let bytes = encode(&events, format);
        let whole = decode_in_chunks(&bytes, &[]);
        prop_assert_eq!(&decode_in_chunks(&bytes, &cuts), &whole);
        let decoded: Vec<DataBuildEvent> = whole.into_iter().map(|r| r.event).collect();
        prop_assert_eq!(decoded, events);
    }

    #[test]
    fn binary_and_json_forms_give_the_same_digest(ops in prop::collection::vec(op(), 0..60)) {
        let events = events(&ops);
        let binary = replay(&decode_in_chunks(&encode(&events, LogFormat::Binary), &[]));
        let json = replay(&decode_in_chunks(&encode(&events, LogFormat::JsonLines), &[]));
        prop_assert_eq!(binary.digest(), json.digest());
        prop_assert_eq!(binary.diagnostic_count(), json.diagnostic_count());
    }
}

#[test]
fn demo_log_binary_and_json_digests_match() {
    let events = demo_events();
    let binary = replay(&decode_in_chunks(&encode(&events, LogFormat::Binary), &[]));
    let json = replay(&decode_in_chunks(&encode(&events, LogFormat::JsonLines), &[7, 300]));
    assert_eq!(binary.digest(), json.digest());
    assert_eq!(binary.events_applied(), events.len() as u64);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Any bytes at all: the decoder never panics, an error names an offset inside what it was given,
    /// and whatever decoded applies to a state without panicking.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048), json_prefix in any::<bool>()) {
        let mut input = if json_prefix { b"{\"event_id\":1}\n".to_vec() } else { Vec::new() };
        input.extend_from_slice(&bytes);
        let mut decoder = Decoder::with_max_record_bytes(1024);
        let mut state = BuildState::new();
        let result = decoder.feed(&input, &mut |r| state.apply(&r.event, r.offset));
        if let Err(error) = result {
            prop_assert!(error.offset <= input.len() as u64, "{error}");
            let named = format!("byte offset {}", error.offset);
            prop_assert!(error.to_string().contains(&named), "{} does not name {}", error, named);
        }
        prop_assert!(decoder.consumed_bytes() + decoder.pending_bytes() as u64 <= input.len() as u64);
        state.digest();
    }

    /// Valid records with random garbage spliced in: decoding stops exactly at the damage.
    #[test]
    fn damage_is_reported_where_it_is(ops in prop::collection::vec(op(), 2..20), at in any::<prop::sample::Index>(), junk in 0x80u8..=0xff) {
        let events = events(&ops);
        let mut bytes = Vec::new();
        let mut starts = Vec::new();
        for e in &events {
            starts.push(bytes.len());
            encode_record(e, LogFormat::JsonLines, &mut bytes);
        }
        // Not the first line: a log that starts with a non-ASCII byte is, rightly, sniffed as binary.
        let damaged = 1 + at.index(events.len() - 1);
        // A non-UTF-8 byte at the start of one line.
        bytes.insert(starts[damaged], junk);
        let mut decoded = 0;
        let error = Decoder::new().feed(&bytes, &mut |_| decoded += 1).expect_err("damage is an error");
        prop_assert_eq!(decoded, damaged);
        prop_assert_eq!(error.offset, starts[damaged] as u64);
        prop_assert_eq!(error.line, Some(damaged as u64 + 1));
    }
}
