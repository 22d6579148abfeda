//! `dbl exec`: run any job and record it in a BEL as databuild would — buffered, queued, running
//! with heartbeats, then succeeded (with what it read), dep-missed, or failed.
//!
//! Jobs report on stdout, one line each: `DATABUILD_DEP_READ_JSON:{"read_deps":[...]}` and
//! `DATABUILD_MISSING_DEPS_JSON:{"missing_deps":[...]}`. Every other line passes through to our stdout.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::events;
use crate::log::source::write::Appender;
use crate::proto::{JobRunMissingDepsEventV1, JobRunSuccessEventV1, MissingDeps, ReadDeps};

const DEP_READ_PREFIX: &str = "DATABUILD_DEP_READ_JSON:";
const MISSING_DEPS_PREFIX: &str = "DATABUILD_MISSING_DEPS_JSON:";

#[derive(Debug, clap::Args)]
pub struct ExecArgs {
    /// The build event log to append to: a file (created if missing; a new `.jsonl` file gets JSON
    /// lines), a SQLite database or a postgres:// URL (a table is created if there is none).
    #[arg(long)]
    pub log: PathBuf,
    #[arg(long)]
    pub job_run_id: String,
    /// The job's label, e.g. `//jobs:beta`.
    #[arg(long)]
    pub job_label: String,
    /// A partition ref this run builds (repeat for several).
    #[arg(long = "partition", required = true, num_args = 1..)]
    pub partitions: Vec<String>,
    /// A want this run is scheduled for (repeat for several); all its partitions are attributed to each.
    #[arg(long = "want", num_args = 1..)]
    pub wants: Vec<String>,
    /// Seconds between heartbeats while the job runs.
    #[arg(long, default_value_t = 30)]
    pub heartbeat_secs: u64,
    /// The job and its arguments.
    #[arg(last = true, required = true)]
    pub command: Vec<String>,
}

/// What the job said about its inputs on stdout.
#[derive(Debug, Default, PartialEq)]
pub struct JobReport {
    pub read_deps: Vec<ReadDeps>,
    pub missing_deps: Vec<MissingDeps>,
    /// The first report line that could not be parsed, with why.
    pub error: Option<String>,
}

impl JobReport {
    /// Takes one stdout line; returns it back if it is not a report line (so it passes through).
    pub fn take_line<'a>(&mut self, line_number: usize, line: &'a str) -> Option<&'a str> {
        let parsed = if let Some(json) = line.strip_prefix(DEP_READ_PREFIX) {
            serde_json::from_str::<JobRunSuccessEventV1>(json).map(|r| self.read_deps.extend(r.read_deps))
        } else if let Some(json) = line.strip_prefix(MISSING_DEPS_PREFIX) {
            serde_json::from_str::<JobRunMissingDepsEventV1>(json).map(|m| {
                self.missing_deps.extend(m.missing_deps);
                self.read_deps.extend(m.read_deps);
            })
        } else {
            return Some(line);
        };
        if let Err(error) = parsed {
            if self.error.is_none() {
                let prefix = line.split(':').next().unwrap_or_default();
                self.error = Some(format!("stdout line {line_number}: malformed {prefix}: {error}"));
            }
        }
        None
    }
}

pub fn exec(args: &ExecArgs) -> anyhow::Result<ExitCode> {
    let mut log = Appender::open(&args.log.to_string_lossy())?;
    let id = args.job_run_id.as_str();
    let wants: Vec<&str> = args.wants.iter().map(String::as_str).collect();
    log.append(vec![events::job_run_buffer(id, &args.job_label, &args.partitions, &wants), events::job_run_queue(id)])
        .with_context(|| format!("cannot record job run {id} in {}", args.log.display()))?;

    let mut child = match Command::new(&args.command[0]).args(&args.command[1..]).stdout(Stdio::piped()).spawn() {
        Ok(child) => child,
        Err(error) => {
            let reason = format!("could not start {}: {error}", args.command[0]);
            log.append(vec![events::job_run_failure(id, &reason)])?;
            anyhow::bail!(reason);
        }
    };
    log.append(vec![events::job_run_heartbeat(id)])?;

    let stdout = child.stdout.take().expect("stdout is piped");
    let (lines_tx, lines) = mpsc::channel::<std::io::Result<String>>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });

    let mut report = JobReport::default();
    let heartbeat_every = Duration::from_secs(args.heartbeat_secs.max(1));
    let mut next_heartbeat = Instant::now() + heartbeat_every;
    let mut out = std::io::stdout().lock();
    let mut line_number = 0;
    loop {
        match lines.recv_timeout(next_heartbeat.saturating_duration_since(Instant::now())) {
            Ok(Ok(line)) => {
                line_number += 1;
                if let Some(passthrough) = report.take_line(line_number, &line) {
                    writeln!(out, "{passthrough}")?;
                }
            }
            Ok(Err(error)) => {
                report.error.get_or_insert(format!("stdout line {}: unreadable: {error}", line_number + 1));
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                log.append(vec![events::job_run_heartbeat(id)])?;
                next_heartbeat = Instant::now() + heartbeat_every;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    reader.join().ok();
    let status = child.wait()?;
    drop(out);

    let (event, code) = if let Some(error) = report.error {
        eprintln!("dbl exec: {error}");
        (events::job_run_failure(id, &format!("job reported lineage badly: {error}")), ExitCode::FAILURE)
    } else if !report.missing_deps.is_empty() {
        let code = status.code().map_or(ExitCode::FAILURE, |c| ExitCode::from(c as u8));
        (events::job_run_missing_deps_from(id, report.missing_deps, report.read_deps), code)
    } else if status.success() {
        (events::job_run_success(id, report.read_deps), ExitCode::SUCCESS)
    } else {
        let reason = match status.code() {
            Some(code) => format!("exit code {code}"),
            None => format!("terminated by {status}"),
        };
        (events::job_run_failure(id, &reason), status.code().map_or(ExitCode::FAILURE, |c| ExitCode::from(c as u8)))
    };
    log.append(vec![event])?;
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_lines_are_parsed_and_others_pass_through() {
        let mut report = JobReport::default();
        assert_eq!(report.take_line(1, "hello"), Some("hello"));
        let line = r#"DATABUILD_DEP_READ_JSON:{"read_deps":[{"impacted":[{"ref":"data/gamma"}],"read":[{"ref":"data/beta"}]}]}"#;
        assert_eq!(report.take_line(2, line), None);
        let line = r#"DATABUILD_MISSING_DEPS_JSON:{"missingDeps":[{"missing":[{"ref":"data/alpha"}]}]}"#;
        assert_eq!(report.take_line(3, line), None);
        assert_eq!(report.read_deps.len(), 1);
        assert_eq!(report.read_deps[0].read[0].r#ref, "data/beta");
        assert_eq!(report.missing_deps[0].missing[0].r#ref, "data/alpha");
        assert_eq!(report.error, None);
    }

    #[test]
    fn a_malformed_report_line_names_its_line() {
        let mut report = JobReport::default();
        report.take_line(7, r#"DATABUILD_DEP_READ_JSON:{"read_deps":[{"read":"oops"}]}"#);
        let error = report.error.expect("an error");
        assert!(error.starts_with("stdout line 7: malformed DATABUILD_DEP_READ_JSON: "), "{error}");
    }
}
