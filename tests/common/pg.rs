//! A private PostgreSQL server from Debian's packages, on a free loopback port in a temporary
//! directory, stopped when dropped. Under `CI=true` a missing server is a failure, never a skip.

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct PgServer {
    dir: tempfile::TempDir,
    bin: PathBuf,
    pub port: u16,
}

fn find_bin() -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> =
        std::fs::read_dir("/usr/lib/postgresql").ok()?.flatten().map(|e| e.path()).collect();
    versions.sort();
    versions.into_iter().rev().map(|v| v.join("bin")).find(|b| b.join("initdb").exists())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Runs a PostgreSQL tool; as root through the `postgres` user (initdb refuses root).
fn run(bin: &Path, tool: &str, args: &[&str]) -> std::process::Output {
    let program = bin.join(tool);
    let output = if is_root() {
        let quoted: Vec<String> = args.iter().map(|a| format!("'{}'", a.replace('\'', "'\\''"))).collect();
        Command::new("su").args(["postgres", "-c", &format!("{} {}", program.display(), quoted.join(" "))]).output()
    } else {
        Command::new(&program).args(args).output()
    };
    output.unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()))
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

impl PgServer {
    /// Starts a server, or returns `None` (a skip, said on stderr) when PostgreSQL is not installed
    /// and CI is not set. Under `CI=true` a missing server panics.
    pub fn start() -> Option<PgServer> {
        let Some(bin) = find_bin() else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "PostgreSQL is not installed (apt-get install postgresql; .ci/install-clients.sh does)"
            );
            eprintln!("skipping: PostgreSQL is not installed");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        if is_root() {
            let status = Command::new("chown").args(["-R", "postgres", dir.path().to_str().unwrap()]).status().unwrap();
            assert!(status.success());
        }
        let data = dir.path().to_str().unwrap().to_string();
        let init = run(&bin, "initdb", &["-D", &data, "-A", "trust", "-U", "postgres"]);
        assert!(init.status.success(), "initdb: {}", String::from_utf8_lossy(&init.stderr));
        let port = free_port();
        let server = PgServer { dir, bin, port };
        server.ctl_start();
        Some(server)
    }

    fn data(&self) -> String {
        self.dir.path().to_str().unwrap().to_string()
    }

    fn ctl_start(&self) {
        let data = self.data();
        let options = format!("-p {} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off", self.port);
        let log = format!("{data}/server.log");
        let start = run(&self.bin, "pg_ctl", &["-D", &data, "-o", &options, "-l", &log, "start", "-w"]);
        assert!(start.status.success(), "pg_ctl start: {}", String::from_utf8_lossy(&start.stderr));
    }

    /// Stops the server and starts it again on the same port (clients lose their connections).
    pub fn restart(&self) {
        let stop = run(&self.bin, "pg_ctl", &["-D", &self.data(), "stop", "-m", "fast", "-w"]);
        assert!(stop.status.success(), "pg_ctl stop: {}", String::from_utf8_lossy(&stop.stderr));
        self.ctl_start();
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Runs SQL with psql, panicking with its message on failure.
    pub fn sql(&self, sql: &str) -> String {
        let output = Command::new(self.bin.join("psql"))
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", "postgres", "-d", "postgres"])
            .args(["-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql])
            .output()
            .unwrap();
        assert!(output.status.success(), "psql {sql}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).into_owned()
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let _ = run(&self.bin, "pg_ctl", &["-D", &self.data(), "stop", "-m", "immediate"]);
    }
}
