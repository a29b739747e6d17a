//! The real `postback-ledger serve` as a child process: started on port 0 with a config file, its
//! port read from its own `serving` log line, and stopped by signal. Shared by the benchmark and
//! the durability tests, which must be able to kill it.
//!
//! Each user of this file needs part of it only.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub const SECRET: &str = "bench-secret";

/// How long a start or a stop may take before the caller gives up.
const PATIENCE: Duration = Duration::from_secs(30);

pub struct Server {
    child: Child,
    pub port: u16,
    pub base: String,
    log_path: PathBuf,
    log_offset: u64,
}

/// Writes the config file a server runs with: port 0 and a fixed query secret, then `more`
/// (further tables).
pub fn write_config(dir: &Path, database_url: &str, more: &str) -> PathBuf {
    let path = dir.join("postback-ledger.toml");
    std::fs::write(
        &path,
        format!(
            "database_url = \"{database_url}\"\nlisten = \"127.0.0.1:0\"\n\n[auth]\nquery_param = \"secure\"\nquery_values = [\"{SECRET}\"]\n{more}"
        ),
    )
    .expect("write the config file");
    path
}

impl Server {
    /// Starts `binary serve` on the database and waits until it listens.
    pub fn start(binary: &Path, dir: &Path, database_url: &str) -> Server {
        Server::start_with(binary, dir, database_url, "")
    }

    /// As `start`, with `more` configuration after the `[auth]` table (a `[dashboard]`, say).
    pub fn start_with(binary: &Path, dir: &Path, database_url: &str, more: &str) -> Server {
        let config = write_config(dir, database_url, more);
        // The log goes to a file, as in a deployment: read from a pipe line by line, it woke a
        // thread of ours for every request the server logged, a quarter of the load generator's
        // CPU per postback. $SERVER_LOG_FILE keeps it (with $SERVER_RUST_LOG for what it says).
        let log_path = std::env::var_os("SERVER_LOG_FILE")
            .map_or_else(|| dir.join("server.log"), PathBuf::from);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .expect("open the server's log file");
        // A restart in the same directory appends: its `serving` line is after this offset.
        let offset = log.metadata().expect("the log file's length").len();
        let mut child = Command::new(binary)
            .args(["--log-format", "json", "--config"])
            .arg(&config)
            .arg("serve")
            .env_remove("POSTBACK_LEDGER_DATABASE_URL")
            .env_remove("POSTBACK_LEDGER_LISTEN")
            .env_remove("POSTBACK_LEDGER_CONFIG")
            .env_remove("RUST_LOG")
            .envs(std::env::var("SERVER_RUST_LOG").map(|filter| ("RUST_LOG", filter)))
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("the binary starts");
        let deadline = Instant::now() + PATIENCE;
        let port = loop {
            let logged = log_since(&log_path, offset);
            if let Some(port) = logged.lines().find_map(serving_port) {
                break port;
            }
            if child.try_wait().expect("try_wait").is_some() {
                let logged = log_since(&log_path, offset);
                panic!("the server exited before serving:\n{logged}");
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("the server did not log `serving` within {PATIENCE:?}:\n{logged}");
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        Server {
            child,
            port,
            base: format!("http://127.0.0.1:{port}"),
            log_path,
            log_offset: offset,
        }
    }

    /// What this server has logged so far.
    pub fn log(&self) -> String {
        log_since(&self.log_path, self.log_offset)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's peak resident memory in KiB (VmHWM), while it runs.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
    }

    /// The server's resident memory now in KiB (VmRSS): what a soak watches stay flat.
    pub fn current_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
    }

    /// CPU time the server's threads have had so far, in nanoseconds: the writer threads', the
    /// SQLite checkpointer's, and all the others' (request handlers, mostly). Differences of two
    /// readings over a run, divided by the postbacks stored, say what each postback costs; on a
    /// shared machine they move less than throughput does (a busier host still slows every
    /// instruction: up to a third between runs of one build).
    pub fn cpu_ns(&self) -> [u64; 3] {
        let mut ns = [0; 3];
        for (name, ran) in threads_cpu_ns(&self.pid().to_string()) {
            let group = match name.as_str() {
                writer if writer.starts_with("ledger-writer") => 0,
                "wal-checkpoint" => 1,
                _ => 2,
            };
            ns[group] += ran;
        }
        ns
    }

    /// Bytes the writer threads have handed to write calls so far (`wchar`): on SQLite, the
    /// pages of its write-ahead log.
    pub fn writer_bytes_written(&self) -> u64 {
        threads_file(&self.pid().to_string(), "io")
            .into_iter()
            .filter(|(name, _)| name.starts_with("ledger-writer"))
            .filter_map(|(_, io)| {
                io.lines()
                    .find_map(|line| line.strip_prefix("wchar: ")?.parse::<u64>().ok())
            })
            .sum()
    }

    /// SIGKILL: the crash no code of ours sees coming.
    pub fn kill(mut self) {
        self.child.kill().expect("SIGKILL sent");
        self.child.wait().expect("reaped");
    }

    /// SIGTERM, then waits for the graceful exit.
    pub fn terminate(self) -> ExitStatus {
        self.send_sigterm();
        self.wait()
    }

    pub fn send_sigterm(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -TERM failed");
    }

    /// Waits for the process to exit; a hang is killed and reported.
    pub fn wait(mut self) -> ExitStatus {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the server did not exit within {PATIENCE:?} of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // A test that fails midway must not leave a server behind.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the log file holds after `offset` (empty until the server has written).
fn log_since(path: &Path, offset: u64) -> String {
    use std::io::{Read, Seek, SeekFrom};
    let mut bytes = Vec::new();
    if let Ok(mut file) = std::fs::File::open(path)
        && file.seek(SeekFrom::Start(offset)).is_ok()
    {
        let _ = file.read_to_end(&mut bytes);
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The port of a `serving` log line.
fn serving_port(line: &str) -> Option<u16> {
    let parsed: serde_json::Value = serde_json::from_str(line).ok()?;
    if parsed["message"] != "serving" {
        return None;
    }
    parsed["port"].as_u64()?.try_into().ok()
}

/// Each live thread of process `pid` ("self" for this one) with the CPU time it has run, in ns.
pub fn threads_cpu_ns(pid: &str) -> Vec<(String, u64)> {
    threads_file(pid, "schedstat")
        .into_iter()
        .map(|(name, schedstat)| {
            let ran = schedstat
                .split_whitespace()
                .next()
                .and_then(|ns| ns.parse().ok())
                .unwrap_or(0);
            (name, ran)
        })
        .collect()
}

/// Each live thread of process `pid` with its name and the text of its `/proc` file `file`.
fn threads_file(pid: &str, file: &str) -> Vec<(String, String)> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task"));
    let mut threads = Vec::new();
    for task in tasks.into_iter().flatten().flatten() {
        let read = |name: &str| std::fs::read_to_string(task.path().join(name));
        if let (Ok(comm), Ok(text)) = (read("comm"), read(file)) {
            threads.push((comm.trim_end().to_owned(), text));
        }
    }
    threads
}
