//! The `kyukit` binary: parses the command line and hands over to `kyukit_server::cli`.

use std::process::ExitCode;

fn main() -> ExitCode {
    idle_malloc_trim::start();
    kyukit_server::cli::main()
}

/// glibc's allocator keeps what the threads of a surge freed in their arenas: 25 s after a scan
/// run the idle server held ≈ 62 MiB. Limiting arenas (`MALLOC_ARENA_MAX=2`) kept ≈ 36 MiB but
/// cost ≈ 5–10 % of the scan rate. Instead, once the process has been quiet for a while (under
/// 1 % of a CPU over 2 s), a thread hands the free pages back with `malloc_trim(0)` (≈ 41 MiB),
/// and once more after 14 s quiet: the blocking pool's threads exit 10 s after their last job and
/// their caches go back to the arenas then (measured: 61 MiB 25 s after a run with one trim).
/// Under load it does nothing. docs/scaling.md §4.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod idle_malloc_trim {
    use std::time::Duration;

    const EVERY: Duration = Duration::from_secs(2);
    /// CPU time (µs) below which an interval counts as quiet: 1 % of one CPU.
    const QUIET_US: i64 = 20_000;
    /// Quiet intervals after which to trim: at once, and after tokio's blocking threads (10 s
    /// keep-alive) have exited.
    const TRIM_AT: [u32; 2] = [1, 7];

    pub fn start() {
        let _ = std::thread::Builder::new()
            .name("malloc-trim".into())
            .spawn(|| {
                let mut last = cpu_us();
                // Quiet intervals in a row (none to trim at start: nothing was freed yet).
                let mut quiet = TRIM_AT[TRIM_AT.len() - 1];
                loop {
                    std::thread::sleep(EVERY);
                    let now = cpu_us();
                    let busy = now - last > QUIET_US;
                    last = now;
                    quiet = if busy { 0 } else { quiet.saturating_add(1) };
                    if TRIM_AT.contains(&quiet) {
                        trim();
                    }
                }
            });
    }

    /// User + system CPU time of the whole process, in µs.
    fn cpu_us() -> i64 {
        let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
        // SAFETY: getrusage writes a `rusage` into the valid, zeroed buffer we pass, and
        // malloc_trim only returns free memory to the kernel; both are thread-safe.
        #[allow(unsafe_code)]
        let usage = unsafe {
            if libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) != 0 {
                return 0;
            }
            usage.assume_init()
        };
        let us = |t: libc::timeval| t.tv_sec * 1_000_000 + t.tv_usec;
        us(usage.ru_utime) + us(usage.ru_stime)
    }

    fn trim() {
        #[allow(unsafe_code)]
        // SAFETY: see `cpu_us`.
        unsafe {
            libc::malloc_trim(0);
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
mod idle_malloc_trim {
    pub fn start() {}
}
