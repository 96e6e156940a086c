//! The real `server` binary in its own process, for benchmarks that must tell the server's CPU
//! time from the load generator's: both share this machine's cores, so only a separate process
//! (read through `/proc/<pid>/stat`) separates them.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `server` process on a free port; killed when dropped.
pub struct ServerProcess {
    child: Child,
    pub addr: String,
}

/// Where the server's CPU should run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cores {
    /// Every core of the machine (shared with the load generator).
    All,
    /// Only the first core (`taskset -c 0`); the runtime then starts one worker thread.
    One,
    /// The server on the first core as in `One`, and the benchmark holds the load generator and
    /// redis-server there too (`hold_to_first_core`): the whole measurement on one core, the
    /// baseline that tells whether the machine's work as a whole scales with its cores.
    Shared,
}

impl Cores {
    pub fn name(self) -> &'static str {
        match self {
            Cores::All => "all cores",
            Cores::One => "one core",
            Cores::Shared => "one core for all",
        }
    }
}

/// Holds every thread of each process in `pids` to the first core (`first_only`) or lets them
/// run on every core again (`taskset -a -p`). Threads started later inherit it.
pub fn hold_to_first_core(pids: &[u32], first_only: bool) -> Result<(), String> {
    // Counted before the first hold: once held, this process sees one core.
    static CPUS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    let cpus = *CPUS.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let list = if first_only { "0".to_string() } else { format!("0-{}", cpus.saturating_sub(1)) };
    for pid in pids {
        let ok = Command::new("taskset")
            .args(["-a", "-c", "-p", &list, &pid.to_string()])
            .stdout(Stdio::null())
            .status()
            .map_err(|e| format!("taskset: {e}"))?
            .success();
        if !ok {
            return Err(format!("taskset could not move process {pid} to cores {list}"));
        }
    }
    Ok(())
}

/// The `server` binary: `SERVER_BIN`, or the one beside this benchmark in the same target
/// directory (`cargo build --release -p server -p tools` builds both).
pub fn server_binary() -> Result<PathBuf, String> {
    if let Ok(path) = std::env::var("SERVER_BIN") {
        return Ok(PathBuf::from(path));
    }
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let path = exe.parent().map(|d| d.join("server")).ok_or("no directory for the benchmark binary")?;
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!("{} not found: build it first (cargo build --release -p server) or set SERVER_BIN", path.display()))
    }
}

impl ServerProcess {
    /// Starts the server with `env` (on top of a free `SHOP_ADDR`, its origin and a cookie
    /// secret) and waits until `/readyz` answers 200, at most two minutes (a first start seeds
    /// the demo catalogue and its order history).
    pub async fn start(env: &[(&str, &str)], cores: Cores) -> Result<ServerProcess, String> {
        let bin = server_binary()?;
        let port = testkit::free_port();
        let addr = format!("127.0.0.1:{port}");
        let mut cmd = match cores {
            Cores::All => Command::new(&bin),
            Cores::One | Cores::Shared => {
                let mut c = Command::new("taskset");
                c.arg("-c").arg("0").arg(&bin);
                c
            }
        };
        cmd.env("SHOP_ADDR", &addr)
            .env("SHOP_ORIGINS", format!("http://{addr}"))
            .env("COOKIE_SECRET", testkit::TEST_COOKIE_SECRET)
            // No client build: the server would spend its first seconds compressing the wasm,
            // and that CPU time would be counted against the requests measured.
            .env("LEPTOS_SITE_ROOT", std::env::temp_dir().join("copperleaf-bench-no-client-files"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        let mut server = ServerProcess { child, addr };
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(format!("the server exited at start: {status}"));
            }
            if let Ok(r) = http.get(server.url("/readyz")).send().await {
                if r.status().is_success() {
                    return Ok(server);
                }
            }
            if Instant::now() > deadline {
                return Err("the server did not become ready within two minutes".into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// CPU seconds (user + system, all threads) the server has used so far.
    pub fn cpu_seconds(&self) -> f64 {
        cpu_seconds_of(self.child.id()).unwrap_or(f64::NAN)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// utime + stime of a process from `/proc/<pid>/stat`, in seconds. The command name (field 2)
/// may hold spaces, so fields are counted from its closing parenthesis.
pub fn cpu_seconds_of(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_cpu_ticks(&stat).map(|ticks| ticks as f64 / clock_ticks_per_second())
}

fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let after = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // After the name: state is field 3, so utime (14) and stime (15) are at 11 and 12 here.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// `getconf CLK_TCK`: 100 on every Linux this runs on; asked anyway.
fn clock_ticks_per_second() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_user_and_system_ticks_past_a_name_with_spaces() {
        let stat = "4242 (tokio runtime) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 37 0 0 20 0 3 0 99 0 0";
        assert_eq!(parse_cpu_ticks(stat), Some(287));
        assert_eq!(parse_cpu_ticks("garbage"), None);
    }

    #[test]
    fn this_process_has_used_some_cpu() {
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        assert!(x != 1);
        assert!(cpu_seconds_of(std::process::id()).is_some_and(|s| s >= 0.0));
    }
}
