//! A process's CPU time and resident memory, from `/proc`.

use std::{fs, io, process::Command, sync::OnceLock, time::Duration};

/// Clock ticks per second, the unit of `/proc/PID/stat`'s times.
fn ticks_per_second() -> u64 {
    static TICKS: OnceLock<u64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .and_then(|text| text.trim().parse().ok())
            .unwrap_or(100)
    })
}

/// CPU time of process `pid`, all threads: from the scheduler's nanosecond counts where the
/// kernel keeps them (`/proc/PID/task/*/schedstat`), else user plus system time in clock
/// ticks (`/proc/PID/stat`), too coarse for windows of a second: a tick is 1% of one.
///
/// The nanosecond sum leaves out threads that have ended, which the servers under test do
/// not do while loaded.
pub fn cpu_time(pid: u32) -> io::Result<Duration> {
    match scheduled_time(pid)? {
        Some(time) => Ok(time),
        None => ticked_time(pid),
    }
}

/// The sum of the threads' time on a CPU per `schedstat`; `None` if the kernel reports
/// none (its scheduler statistics off).
fn scheduled_time(pid: u32) -> io::Result<Option<Duration>> {
    let mut nanos = 0u64;
    for task in fs::read_dir(format!("/proc/{pid}/task"))? {
        let path = task?.path().join("schedstat");
        // A thread that ended since the listing has nothing left to count.
        let Ok(stat) = fs::read_to_string(&path) else {
            continue;
        };
        nanos += stat
            .split_whitespace()
            .next()
            .and_then(|field| field.parse::<u64>().ok())
            .ok_or_else(|| io::Error::other(format!("unreadable {}", path.display())))?;
    }
    Ok((nanos > 0).then(|| Duration::from_nanos(nanos)))
}

/// User plus system time per `/proc/PID/stat`, in clock ticks.
fn ticked_time(pid: u32) -> io::Result<Duration> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    // Fields 14 and 15 of proc(5): utime and stime; `fields[0]` is field 3.
    let field = |index: usize| -> io::Result<u64> {
        fields
            .get(index)
            .and_then(|value| value.parse().ok())
            .ok_or_else(|| io::Error::other(format!("unreadable /proc/{pid}/stat")))
    };
    let ticks = field(11)? + field(12)?;
    Ok(Duration::from_nanos(
        ticks * 1_000_000_000 / ticks_per_second(),
    ))
}

/// Resident memory of process `pid` in bytes (`VmRSS`).
pub fn rss_bytes(pid: u32) -> io::Result<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| {
            value
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map(|kib| kib * 1024)
        .ok_or_else(|| io::Error::other(format!("no VmRSS in /proc/{pid}/status")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_cpu_time_and_memory() {
        let pid = std::process::id();
        let before = cpu_time(pid).unwrap();
        let ticked = ticked_time(pid).unwrap();
        let mut x = 0u64;
        let start = std::time::Instant::now();
        while start.elapsed() < Duration::from_millis(60) {
            x = x.wrapping_add(std::hint::black_box(1));
        }
        assert!(x > 0);
        assert!(cpu_time(pid).unwrap() > before);
        assert!(ticked_time(pid).unwrap() > ticked);
        assert!(rss_bytes(pid).unwrap() > 1024 * 1024);
    }
}
