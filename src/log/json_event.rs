//! The fast path for a JSON-lines event: a reader for exactly the shape writers produce (DESIGN's
//! field names or lowerCamelCase, integers as plain digits, strings without escapes), written
//! straight into the prost types.
//!
//! serde_json through pbjson's generated visitors spent about 0.45 µs a line, more than applying the
//! event, which made JSON loads twice as slow as binary ones. This reader says `None` to anything
//! outside that shape (an escape, `null`, a float, an unknown or repeated field, a syntax error) and
//! the caller reads the line with serde_json instead, so what a line means, and every error message,
//! stays serde_json's. Tests hold it to that: where this reader answers, serde_json gives the same
//! event.

use crate::proto::{
    data_build_event::Event, event_source, DataBuildEvent, EventSource, JobRunBufferEventV1, JobRunCancelEventV1,
    JobRunFailureEventV1, JobRunHeartbeatEventV1, JobRunMissingDepsEventV1, JobRunQueueEventV1, JobRunSuccessEventV1,
    JobTriggeredEvent, ManuallyTriggeredEvent, MissingDeps, PartitionRef, ReadDeps, TaintCancelEventV1,
    TaintCreateEventV1, WantAttributedPartitions, WantCancelEventV1, WantCreateEventV1,
};

/// The event on `line`, or `None` when the line is not in the plain shape (serde_json decides then).
pub(crate) fn parse(line: &str) -> Option<DataBuildEvent> {
    let mut reader = Reader { text: line, at: 0 };
    let event = reader.event()?;
    reader.blank();
    (reader.at == line.len()).then_some(event)
}

/// Where the first `"`, `\\` or control character is in `bytes`: the end of a string without escapes,
/// or what sends it to serde_json. Eight bytes at a time (the classic "has zero byte" test on each of
/// the three conditions): most of a line is strings, keys included.
fn string_end(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |v: u64| v.wrapping_sub(ONES) & !v;
    let mut words = bytes.chunks_exact(8);
    for (i, word) in words.by_ref().enumerate() {
        let v = u64::from_le_bytes(word.try_into().expect("chunks of eight"));
        // The lowest flagged byte is exact for each test (a borrow only runs upward from a hit).
        let found = (zero_byte(v ^ (ONES * u64::from(b'"')))
            | zero_byte(v ^ (ONES * u64::from(b'\\')))
            | (v.wrapping_sub(ONES * 0x20) & !v))
            & HIGHS;
        if found != 0 {
            return Some(i * 8 + (found.trailing_zeros() / 8) as usize);
        }
    }
    let tail = words.remainder();
    let at = bytes.len() - tail.len();
    tail.iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20).map(|i| at + i)
}

struct Reader<'a> {
    text: &'a str,
    at: usize,
}

/// Fields seen so far in one object: a repeated one sends the line to serde_json, which refuses it.
#[derive(Default)]
struct Seen(u32);

impl Seen {
    fn first(&mut self, field: u32) -> Option<()> {
        let bit = 1 << field;
        if self.0 & bit != 0 {
            return None;
        }
        self.0 |= bit;
        Some(())
    }
}

impl<'a> Reader<'a> {
    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    fn blank(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes().get(self.at) {
            self.at += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        self.blank();
        (self.bytes().get(self.at) == Some(&byte)).then(|| self.at += 1)
    }

    /// Whether the next byte (after blank space) is `byte`; consumed if so.
    fn take(&mut self, byte: u8) -> bool {
        self.blank();
        let found = self.bytes().get(self.at) == Some(&byte);
        if found {
            self.at += 1;
        }
        found
    }

    /// A string without escapes or control characters, borrowed from the line.
    fn str(&mut self) -> Option<&'a str> {
        self.expect(b'"')?;
        let start = self.at;
        let len = string_end(&self.bytes()[start..])?;
        if self.bytes()[start + len] != b'"' {
            return None;
        }
        self.at = start + len + 1;
        // Between two ASCII quotes of a `str`: on character boundaries.
        self.text.get(start..start + len)
    }

    fn string(&mut self) -> Option<String> {
        self.str().map(str::to_owned)
    }

    /// An unsigned integer in plain digits (no sign, fraction, exponent or leading zero), bare or
    /// quoted as proto3 JSON writes 64-bit integers.
    fn u64(&mut self) -> Option<u64> {
        let quoted = self.take(b'"');
        let start = self.at;
        let digits = self.bytes()[start..].iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 || (digits > 1 && self.bytes()[start] == b'0') {
            return None;
        }
        let mut value: u64 = 0;
        for &b in &self.bytes()[start..start + digits] {
            value = value.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
        }
        self.at = start + digits;
        if quoted {
            // No blank space inside the quotes: serde_json's number parser would refuse it.
            if self.bytes().get(self.at) != Some(&b'"') {
                return None;
            }
            self.at += 1;
        } else if matches!(self.bytes().get(self.at), Some(b'.' | b'e' | b'E')) {
            return None;
        }
        Some(value)
    }

    /// An object: `field` is called with each key, after its colon, and reads the value.
    fn object(&mut self, mut field: impl FnMut(&mut Self, &'a str) -> Option<()>) -> Option<()> {
        self.expect(b'{')?;
        if self.take(b'}') {
            return Some(());
        }
        loop {
            let key = self.str()?;
            self.expect(b':')?;
            field(self, key)?;
            if self.take(b'}') {
                return Some(());
            }
            self.expect(b',')?;
        }
    }

    fn array<T>(&mut self, mut item: impl FnMut(&mut Self) -> Option<T>) -> Option<Vec<T>> {
        self.expect(b'[')?;
        let mut items = Vec::new();
        if self.take(b']') {
            return Some(items);
        }
        loop {
            items.push(item(self)?);
            if self.take(b']') {
                return Some(items);
            }
            self.expect(b',')?;
        }
    }

    /// A message: `field` reads the value of the field named `key` into it and says the field's number,
    /// or `None` for a field it does not know. A field given twice sends the line to serde_json.
    fn message<M: Default>(&mut self, mut field: impl FnMut(&mut Self, &mut M, &'a str) -> Option<u32>) -> Option<M> {
        let mut message = M::default();
        let mut seen = Seen::default();
        self.object(|r, key| {
            let number = field(r, &mut message, key)?;
            seen.first(number)
        })?;
        Some(message)
    }

    fn event(&mut self) -> Option<DataBuildEvent> {
        self.message(|r, e: &mut DataBuildEvent, key| match key {
            "timestamp" => {
                e.timestamp = r.u64()?;
                Some(0)
            }
            "event_id" | "eventId" => {
                e.event_id = r.u64()?;
                Some(1)
            }
            // One of the oneof's variants: a second one is refused by serde_json.
            _ => {
                e.event = Some(r.variant(key)?);
                Some(2)
            }
        })
    }

    fn variant(&mut self, key: &str) -> Option<Event> {
        Some(match key {
            "job_run_buffer_v1" | "jobRunBufferV1" => Event::JobRunBufferV1(self.job_run_buffer()?),
            "job_run_queue_v1" | "jobRunQueueV1" => {
                Event::JobRunQueueV1(JobRunQueueEventV1 { job_run_id: self.job_run_id_only()? })
            }
            "job_run_heartbeat_v1" | "jobRunHeartbeatV1" => {
                Event::JobRunHeartbeatV1(JobRunHeartbeatEventV1 { job_run_id: self.job_run_id_only()? })
            }
            "job_run_success_v1" | "jobRunSuccessV1" => Event::JobRunSuccessV1(self.job_run_success()?),
            "job_run_failure_v1" | "jobRunFailureV1" => Event::JobRunFailureV1(self.job_run_failure()?),
            "job_run_cancel_v1" | "jobRunCancelV1" => Event::JobRunCancelV1(self.job_run_cancel()?),
            "job_run_missing_deps_v1" | "jobRunMissingDepsV1" => {
                Event::JobRunMissingDepsV1(self.job_run_missing_deps()?)
            }
            "want_create_v1" | "wantCreateV1" => Event::WantCreateV1(self.want_create()?),
            "want_cancel_v1" | "wantCancelV1" => Event::WantCancelV1(self.want_cancel()?),
            "taint_create_v1" | "taintCreateV1" => Event::TaintCreateV1(self.taint_create()?),
            "taint_cancel_v1" | "taintCancelV1" => Event::TaintCancelV1(self.taint_cancel()?),
            _ => return None,
        })
    }

    /// `{"job_run_id": …}`, the whole of some messages.
    fn job_run_id_only(&mut self) -> Option<String> {
        self.message(|r, id: &mut String, key| match key {
            "job_run_id" | "jobRunId" => {
                *id = r.string()?;
                Some(0)
            }
            _ => None,
        })
    }

    fn job_run_buffer(&mut self) -> Option<JobRunBufferEventV1> {
        self.message(|r, e: &mut JobRunBufferEventV1, key| match key {
            "job_run_id" | "jobRunId" => {
                e.job_run_id = r.string()?;
                Some(0)
            }
            "job_label" | "jobLabel" => {
                e.job_label = r.string()?;
                Some(1)
            }
            "building_partitions" | "buildingPartitions" => {
                e.building_partitions = r.refs()?;
                Some(2)
            }
            "want_attributed_partitions" | "wantAttributedPartitions" => {
                e.want_attributed_partitions = r.array(|r| {
                    r.message(|r, w: &mut WantAttributedPartitions, key| match key {
                        "want_id" | "wantId" => {
                            w.want_id = r.string()?;
                            Some(0)
                        }
                        "partitions" => {
                            w.partitions = r.refs()?;
                            Some(1)
                        }
                        _ => None,
                    })
                })?;
                Some(3)
            }
            _ => None,
        })
    }

    fn refs(&mut self) -> Option<Vec<PartitionRef>> {
        self.array(|r| {
            r.message(|r, p: &mut PartitionRef, key| match key {
                "ref" => {
                    p.r#ref = r.string()?;
                    Some(0)
                }
                _ => None,
            })
        })
    }

    /// The lists of `ReadDeps` or `MissingDeps`: impacted refs and one more list, named `other`.
    fn deps(&mut self, other: &str) -> Option<Vec<(Vec<PartitionRef>, Vec<PartitionRef>)>> {
        self.array(|r| {
            r.message(|r, (impacted, others): &mut (Vec<PartitionRef>, Vec<PartitionRef>), key| {
                if key == "impacted" {
                    *impacted = r.refs()?;
                    Some(0)
                } else if key == other {
                    *others = r.refs()?;
                    Some(1)
                } else {
                    None
                }
            })
        })
    }

    fn read_deps(&mut self) -> Option<Vec<ReadDeps>> {
        Some(self.deps("read")?.into_iter().map(|(impacted, read)| ReadDeps { impacted, read }).collect())
    }

    fn job_run_success(&mut self) -> Option<JobRunSuccessEventV1> {
        self.message(|r, e: &mut JobRunSuccessEventV1, key| match key {
            "job_run_id" | "jobRunId" => {
                e.job_run_id = r.string()?;
                Some(0)
            }
            "read_deps" | "readDeps" => {
                e.read_deps = r.read_deps()?;
                Some(1)
            }
            _ => None,
        })
    }

    fn job_run_failure(&mut self) -> Option<JobRunFailureEventV1> {
        self.message(|r, e: &mut JobRunFailureEventV1, key| match key {
            "job_run_id" | "jobRunId" => {
                e.job_run_id = r.string()?;
                Some(0)
            }
            "reason" => {
                e.reason = r.string()?;
                Some(1)
            }
            _ => None,
        })
    }

    fn job_run_missing_deps(&mut self) -> Option<JobRunMissingDepsEventV1> {
        self.message(|r, e: &mut JobRunMissingDepsEventV1, key| match key {
            "job_run_id" | "jobRunId" => {
                e.job_run_id = r.string()?;
                Some(0)
            }
            "missing_deps" | "missingDeps" => {
                let deps = r.deps("missing")?;
                e.missing_deps =
                    deps.into_iter().map(|(impacted, missing)| MissingDeps { impacted, missing }).collect();
                Some(1)
            }
            "read_deps" | "readDeps" => {
                e.read_deps = r.read_deps()?;
                Some(2)
            }
            _ => None,
        })
    }

    /// The fields every cancel and create has besides its id: `source` and the optional `comment`.
    fn source_or_comment(
        &mut self,
        key: &str,
        source: &mut Option<EventSource>,
        comment: &mut Option<String>,
    ) -> Option<u32> {
        match key {
            "source" => {
                *source = Some(self.source()?);
                Some(30)
            }
            "comment" => {
                *comment = Some(self.string()?);
                Some(31)
            }
            _ => None,
        }
    }

    fn source(&mut self) -> Option<EventSource> {
        self.message(|r, source: &mut EventSource, key| {
            source.source = Some(match key {
                "manually_triggered" | "manuallyTriggered" => {
                    let user = r.message(|r, user: &mut String, key| match key {
                        "user" => {
                            *user = r.string()?;
                            Some(0)
                        }
                        _ => None,
                    })?;
                    event_source::Source::ManuallyTriggered(ManuallyTriggeredEvent { user })
                }
                "job_triggered" | "jobTriggered" => {
                    event_source::Source::JobTriggered(JobTriggeredEvent { job_run_id: r.job_run_id_only()? })
                }
                _ => return None,
            });
            // The oneof's one field: a second variant is refused by serde_json.
            Some(0)
        })
    }

    fn job_run_cancel(&mut self) -> Option<JobRunCancelEventV1> {
        self.message(|r, e: &mut JobRunCancelEventV1, key| match key {
            "job_run_id" | "jobRunId" => {
                e.job_run_id = r.string()?;
                Some(0)
            }
            _ => r.source_or_comment(key, &mut e.source, &mut e.comment),
        })
    }

    fn want_create(&mut self) -> Option<WantCreateEventV1> {
        self.message(|r, e: &mut WantCreateEventV1, key| match key {
            "want_id" | "wantId" => {
                e.want_id = r.string()?;
                Some(0)
            }
            "partitions" => {
                e.partitions = r.refs()?;
                Some(1)
            }
            "data_timestamp" | "dataTimestamp" => {
                e.data_timestamp = r.u64()?;
                Some(2)
            }
            "ttl_seconds" | "ttlSeconds" => {
                e.ttl_seconds = r.u64()?;
                Some(3)
            }
            "sla_seconds" | "slaSeconds" => {
                e.sla_seconds = r.u64()?;
                Some(4)
            }
            _ => r.source_or_comment(key, &mut e.source, &mut e.comment),
        })
    }

    fn want_cancel(&mut self) -> Option<WantCancelEventV1> {
        self.message(|r, e: &mut WantCancelEventV1, key| match key {
            "want_id" | "wantId" => {
                e.want_id = r.string()?;
                Some(0)
            }
            _ => r.source_or_comment(key, &mut e.source, &mut e.comment),
        })
    }

    fn taint_create(&mut self) -> Option<TaintCreateEventV1> {
        self.message(|r, e: &mut TaintCreateEventV1, key| match key {
            "taint_id" | "taintId" => {
                e.taint_id = r.string()?;
                Some(0)
            }
            "partitions" => {
                e.partitions = r.refs()?;
                Some(1)
            }
            _ => r.source_or_comment(key, &mut e.source, &mut e.comment),
        })
    }

    fn taint_cancel(&mut self) -> Option<TaintCancelEventV1> {
        self.message(|r, e: &mut TaintCancelEventV1, key| match key {
            "taint_id" | "taintId" => {
                e.taint_id = r.string()?;
                Some(0)
            }
            _ => r.source_or_comment(key, &mut e.source, &mut e.comment),
        })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::log::{encode_record, LogFormat};

    fn text() -> impl Strategy<Value = String> {
        // Mostly plain; sometimes a quote, backslash, control character or non-ASCII letter, which
        // JSON escapes (or not) and which the fast path must leave to serde_json or read right.
        "[a-zA-Z0-9/:=_ .-]{0,12}|[a-z\"\\\\\n\té€\u{1F600}]{0,6}"
    }

    fn refs() -> impl Strategy<Value = Vec<PartitionRef>> {
        prop::collection::vec(text().prop_map(|r#ref| PartitionRef { r#ref }), 0..3)
    }

    fn source() -> impl Strategy<Value = Option<EventSource>> {
        prop_oneof![
            Just(None),
            Just(Some(EventSource { source: None })),
            text().prop_map(|user| Some(EventSource {
                source: Some(event_source::Source::ManuallyTriggered(ManuallyTriggeredEvent { user }))
            })),
            text().prop_map(|job_run_id| Some(EventSource {
                source: Some(event_source::Source::JobTriggered(JobTriggeredEvent { job_run_id }))
            })),
        ]
    }

    fn variant() -> impl Strategy<Value = Option<Event>> {
        let deps = || prop::collection::vec((refs(), refs()), 0..3);
        prop_oneof![
            Just(None),
            (text(), text(), refs(), prop::collection::vec((text(), refs()), 0..3)).prop_map(|(id, label, b, w)| {
                Some(Event::JobRunBufferV1(JobRunBufferEventV1 {
                    job_run_id: id,
                    job_label: label,
                    building_partitions: b,
                    want_attributed_partitions: w
                        .into_iter()
                        .map(|(want_id, partitions)| WantAttributedPartitions { want_id, partitions })
                        .collect(),
                }))
            }),
            text().prop_map(|job_run_id| Some(Event::JobRunQueueV1(JobRunQueueEventV1 { job_run_id }))),
            text().prop_map(|job_run_id| Some(Event::JobRunHeartbeatV1(JobRunHeartbeatEventV1 { job_run_id }))),
            (text(), deps()).prop_map(|(job_run_id, d)| Some(Event::JobRunSuccessV1(JobRunSuccessEventV1 {
                job_run_id,
                read_deps: d.into_iter().map(|(impacted, read)| ReadDeps { impacted, read }).collect(),
            }))),
            (text(), text()).prop_map(|(job_run_id, reason)| Some(Event::JobRunFailureV1(JobRunFailureEventV1 {
                job_run_id,
                reason
            }))),
            (text(), source(), prop::option::of(text())).prop_map(|(job_run_id, source, comment)| Some(
                Event::JobRunCancelV1(JobRunCancelEventV1 { job_run_id, source, comment })
            )),
            (text(), deps(), deps()).prop_map(|(job_run_id, m, r)| Some(Event::JobRunMissingDepsV1(
                JobRunMissingDepsEventV1 {
                    job_run_id,
                    missing_deps: m.into_iter().map(|(impacted, missing)| MissingDeps { impacted, missing }).collect(),
                    read_deps: r.into_iter().map(|(impacted, read)| ReadDeps { impacted, read }).collect(),
                }
            ))),
            (text(), refs(), any::<[u64; 3]>(), source(), prop::option::of(text())).prop_map(
                |(want_id, partitions, [data_timestamp, ttl_seconds, sla_seconds], source, comment)| Some(
                    Event::WantCreateV1(WantCreateEventV1 {
                        want_id,
                        partitions,
                        data_timestamp,
                        ttl_seconds,
                        sla_seconds,
                        source,
                        comment
                    })
                )
            ),
            (text(), source(), prop::option::of(text())).prop_map(|(want_id, source, comment)| Some(
                Event::WantCancelV1(WantCancelEventV1 { want_id, source, comment })
            )),
            (text(), refs(), source(), prop::option::of(text())).prop_map(|(taint_id, partitions, source, comment)| {
                Some(Event::TaintCreateV1(TaintCreateEventV1 { taint_id, partitions, source, comment }))
            }),
            (text(), source(), prop::option::of(text())).prop_map(|(taint_id, source, comment)| Some(
                Event::TaintCancelV1(TaintCancelEventV1 { taint_id, source, comment })
            )),
        ]
    }

    fn event() -> impl Strategy<Value = DataBuildEvent> {
        (any::<u64>(), any::<u64>(), variant()).prop_map(|(timestamp, event_id, event)| DataBuildEvent {
            timestamp,
            event_id,
            event,
        })
    }

    /// The line in each spelling a writer may use: dbl's own (DESIGN's names, integers as numbers),
    /// pbjson's (integers as strings), lowerCamelCase names, and blank space between the tokens.
    fn spellings(event: &DataBuildEvent) -> Vec<String> {
        let mut ours = Vec::new();
        encode_record(event, LogFormat::JsonLines, &mut ours);
        let ours = String::from_utf8(ours).unwrap().trim_end().to_string();
        let pbjson = serde_json::to_string(event).unwrap();
        let camel = {
            let mut value: serde_json::Value = serde_json::from_str(&ours).unwrap();
            camel_case_keys(&mut value);
            value.to_string()
        };
        let spaced = serde_json::to_string_pretty(&serde_json::from_str::<serde_json::Value>(&ours).unwrap()).unwrap();
        vec![ours, pbjson, camel, spaced]
    }

    fn camel_case_keys(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(fields) => {
                let old = std::mem::take(fields);
                for (key, mut v) in old {
                    camel_case_keys(&mut v);
                    let mut camel = String::new();
                    let mut upper = false;
                    for c in key.chars() {
                        match c {
                            '_' => upper = true,
                            c if upper => {
                                camel.extend(c.to_uppercase());
                                upper = false
                            }
                            c => camel.push(c),
                        }
                    }
                    fields.insert(camel, v);
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(camel_case_keys),
            _ => {}
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        #[test]
        fn where_the_fast_path_answers_serde_json_gives_the_same_event(event in event()) {
            for line in spellings(&event) {
                let slow: DataBuildEvent = serde_json::from_str(&line).unwrap();
                prop_assert_eq!(&slow, &event);
                if let Some(fast) = parse(&line) {
                    prop_assert_eq!(fast, slow, "{}", line);
                }
            }
        }

        #[test]
        fn plain_lines_take_the_fast_path(event in event()) {
            let mut line = Vec::new();
            encode_record(&event, LogFormat::JsonLines, &mut line);
            let line = String::from_utf8(line).unwrap();
            let plain = !line.trim_end().contains(['\\']) && !line.trim_end().chars().any(|c| c < ' ');
            prop_assert_eq!(parse(line.trim_end()).is_some(), plain, "{}", line);
        }

        /// Damage anywhere: the fast path either steps aside or reads what serde_json reads.
        #[test]
        fn damaged_lines_are_read_as_serde_json_reads_them_or_left_to_it(
            event in event(),
            at in any::<prop::sample::Index>(),
            with in prop::sample::select(&[b'"', b'\\', b'{', b'}', b'[', b']', b',', b':', b' ', b'0', b'9', b'-', b'.', b'e', b'n', b'x'][..]),
            cut in any::<bool>(),
        ) {
            let mut line = Vec::new();
            encode_record(&event, LogFormat::JsonLines, &mut line);
            let line = String::from_utf8(line).unwrap().trim_end().to_string();
            let mut bytes = line.into_bytes();
            let at = at.index(bytes.len());
            if cut {
                bytes.truncate(at);
            } else if bytes[at].is_ascii() {
                bytes[at] = with;
            }
            let Ok(damaged) = String::from_utf8(bytes) else { return Ok(()) };
            if let Some(fast) = parse(&damaged) {
                let slow = serde_json::from_str::<DataBuildEvent>(&damaged);
                prop_assert_eq!(Some(fast), slow.ok(), "{}", damaged);
            }
        }

        #[test]
        fn string_end_finds_the_first_quote_backslash_or_control_character(bytes in prop::collection::vec(any::<u8>(), 0..40)) {
            let naive = bytes.iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20);
            prop_assert_eq!(string_end(&bytes), naive);
        }
    }

    #[test]
    fn what_it_leaves_to_serde_json() {
        let base = r#"{"timestamp":1,"event_id":2,"job_run_queue_v1":{"job_run_id":"JR-1"}}"#;
        assert!(parse(base).is_some());
        for line in [
            r#"{"timestamp":1,"event_id":2,"job_run_queue_v1":{"job_run_id":"JR-\u0031"}}"#, // an escape
            r#"{"timestamp":1,"event_id":2,"job_run_queue_v1":{"job_run_id":null}}"#,
            r#"{"timestamp":1.0,"event_id":2,"job_run_queue_v1":{"job_run_id":"JR-1"}}"#,
            r#"{"timestamp":01,"event_id":2,"job_run_queue_v1":{"job_run_id":"JR-1"}}"#,
            r#"{"timestamp":-1,"event_id":2,"job_run_queue_v1":{"job_run_id":"JR-1"}}"#,
            r#"{"timestamp":18446744073709551616,"event_id":2}"#, // beyond u64
            r#"{"timestamp":1,"timestamp":1,"event_id":2}"#,
            r#"{"timestamp":1,"event_id":2,"job_run_queue_v1":{"job_run_id":"JR-1"},"job_run_queue_v1":{}}"#,
            r#"{"timestamp":1,"event_id":2,"job_run_queue_v1":{"job_run_id":"JR-1","extra":1}}"#,
            r#"{"timestamp":1,"event_id":2,"new_event_v9":{}}"#,
            r#"{"timestamp":1,"event_id":2} x"#,
            r#"{"timestamp":1,"event_id":2,}"#,
        ] {
            assert_eq!(parse(line), None, "{line}");
        }
    }
}
