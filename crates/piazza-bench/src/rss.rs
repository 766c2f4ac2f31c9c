//! The server's footprint from `/proc/<pid>`: resident set size (`status`, `VmRSS`) and CPU
//! time (`stat`, utime + stime).

use std::time::Instant;

use serde::Serialize;

/// Linux reports CPU times in USER_HZ ticks, which is 100 on every mainstream architecture.
const TICKS_PER_SECOND: f64 = 100.0;

/// Reads the RSS of `pid` in KiB, or `None` when the process or the field is gone.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_vm_rss(&status)
}

/// Extracts `VmRSS` (in KiB) from the text of `/proc/<pid>/status`.
pub fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let mut fields = line["VmRSS:".len()..].split_whitespace();
    let value: u64 = fields.next()?.parse().ok()?;
    match fields.next() {
        Some("kB") | None => Some(value),
        Some(_) => None,
    }
}

/// User plus system CPU seconds used by `pid` so far.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_cpu_ticks(&stat).map(|ticks| ticks as f64 / TICKS_PER_SECOND)
}

/// utime + stime (fields 14 and 15) from the text of `/proc/<pid>/stat`. The command name
/// (field 2) may hold spaces and parentheses, so fields are counted after its last `)`.
pub fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let after_comm = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_comm.split_whitespace().skip(11); // field 3 is the first here
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// Samples a process before a run; [`Probe::finish`] samples it again.
#[derive(Debug)]
pub struct Probe {
    pid: u32,
    rss_before: Option<u64>,
    cpu_before: Option<f64>,
    at: Instant,
}

impl Probe {
    /// Samples `pid` now.
    pub fn start(pid: u32) -> Probe {
        Probe { pid, rss_before: rss_kib(pid), cpu_before: cpu_seconds(pid), at: Instant::now() }
    }

    /// Samples again and reports the difference.
    pub fn finish(self) -> RssReport {
        let elapsed = self.at.elapsed().as_secs_f64().max(1e-9);
        let cpu_cores = match (self.cpu_before, cpu_seconds(self.pid)) {
            (Some(before), Some(after)) => Some((after - before) / elapsed),
            _ => None,
        };
        RssReport { pid: self.pid, before_kib: self.rss_before, after_kib: rss_kib(self.pid), cpu_cores }
    }
}

/// The RSS of the server under test before and after a run, and the CPU it used meanwhile.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct RssReport {
    /// The PID sampled.
    pub pid: u32,
    /// Before the run, KiB.
    pub before_kib: Option<u64>,
    /// After the run, KiB.
    pub after_kib: Option<u64>,
    /// CPU time used during the run divided by its wall time (1.0 = one core busy).
    pub cpu_cores: Option<f64>,
}

impl std::fmt::Display for RssReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mib =
            |k: Option<u64>| k.map(|k| format!("{:.1} MiB", k as f64 / 1024.0)).unwrap_or_else(|| "?".into());
        write!(f, "pid {}: RSS before {}, after {}", self.pid, mib(self.before_kib), mib(self.after_kib))?;
        if let Some(cores) = self.cpu_cores {
            write!(f, "; CPU {cores:.2} cores")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_vm_rss() {
        let status = "Name:\tpizza\nVmPeak:\t  999 kB\nVmRSS:\t   12345 kB\nThreads:\t3\n";
        assert_eq!(parse_vm_rss(status), Some(12345));
        assert_eq!(parse_vm_rss("Name: x\n"), None);
        assert_eq!(parse_vm_rss("VmRSS: lots kB\n"), None);
    }

    #[test]
    fn parses_cpu_ticks_after_odd_command_names() {
        let stat = "42 (a b) c) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 4 0 100 1000 200";
        assert_eq!(parse_cpu_ticks(stat), Some(300));
        assert_eq!(parse_cpu_ticks("garbage"), None);
    }

    #[test]
    fn probes_our_own_process() {
        assert!(rss_kib(std::process::id()).expect("this process has an RSS") > 0);
        assert!(cpu_seconds(std::process::id()).is_some());
        assert_eq!(rss_kib(u32::MAX), None);
        let usage = Probe::start(std::process::id()).finish();
        assert!(usage.cpu_cores.is_some() && usage.after_kib.is_some());
    }

    #[test]
    fn displays_mib_and_cores() {
        let r = RssReport { pid: 7, before_kib: Some(2048), after_kib: None, cpu_cores: Some(0.5) };
        assert_eq!(r.to_string(), "pid 7: RSS before 2.0 MiB, after ?; CPU 0.50 cores");
    }
}
