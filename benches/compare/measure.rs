//! Clocks, counters and small statistics: CPU time from /proc, the load of other
//! processes, a counting global allocator, persistent worker threads, and a transport
//! wrapper that counts I/O calls.

use std::alloc::{GlobalAlloc, Layout, System};
use std::fs;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::mpsc;
use std::task::{Context, Poll};
use std::thread;
use std::time::{Duration, Instant};

use futures_io::{AsyncRead, AsyncWrite};

// ---------------------------------------------------------------- CPU time

#[repr(C)]
struct Timespec {
    tv_sec: i64,
    tv_nsec: std::ffi::c_long,
}

// clock_gettime(2) from the C library std already links; no `libc` dev-dependency.
unsafe extern "C" {
    fn clock_gettime(clock: i32, tp: *mut Timespec) -> i32;
}

const CLOCK_PROCESS_CPUTIME_ID: i32 = 2;
const CLOCK_THREAD_CPUTIME_ID: i32 = 3;

fn cpu_clock_ns(clock: i32) -> Option<u64> {
    let mut ts = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec (64-bit Linux layout) and the clock id
    // is one of the CPU-time clocks every Linux has.
    let rc = unsafe { clock_gettime(clock, &mut ts) };
    (rc == 0).then(|| ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
}

/// CPU time (user + system, ns) of this thread: `CLOCK_THREAD_CPUTIME_ID`.
pub fn thread_cpu_ns() -> u64 {
    cpu_clock_ns(CLOCK_THREAD_CPUTIME_ID).unwrap_or_else(|| stat_ticks().0 * 10_000_000)
}

/// CPU time (user + system, ns) of the whole process, every thread and exited ones
/// included: `CLOCK_PROCESS_CPUTIME_ID`, which has nanosecond resolution where the
/// utime and stime of /proc/self/stat count 10 ms ticks (those are the fallback, and
/// are what the load check compares with /proc/stat).
pub fn process_cpu_ns() -> u64 {
    cpu_clock_ns(CLOCK_PROCESS_CPUTIME_ID).unwrap_or_else(|| stat_ticks().0 * 10_000_000)
}

/// (utime + stime, cutime + cstime) of this process in clock ticks (1/100 s), from
/// /proc/self/stat.
pub fn stat_ticks() -> (u64, u64) {
    let stat = fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let Some(close) = stat.rfind(')') else {
        return (0, 0);
    };
    let fields: Vec<u64> = stat[close + 2..]
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    // utime, stime, cutime, cstime are fields 14..=17 of the line: 11..=14 after the name.
    if fields.len() < 15 {
        return (0, 0);
    }
    (fields[11] + fields[12], fields[13] + fields[14])
}

/// Busy (non-idle) ticks of all CPUs together, from the first line of /proc/stat.
fn system_busy_ticks() -> u64 {
    let stat = fs::read_to_string("/proc/stat").unwrap_or_default();
    let line = stat.lines().next().unwrap_or_default();
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    // user nice system idle iowait irq softirq steal (guest is inside user already)
    if v.len() < 8 {
        return 0;
    }
    v[0] + v[1] + v[2] + v[5] + v[6] + v[7]
}

/// Watches how much CPU other processes use while a section runs.
pub struct LoadWatch {
    system: u64,
    own: u64,
    start: Instant,
}

impl LoadWatch {
    pub fn start() -> LoadWatch {
        let (own, children) = stat_ticks();
        LoadWatch {
            system: system_busy_ticks(),
            own: own + children,
            start: Instant::now(),
        }
    }

    /// Cores' worth of CPU used by other processes since `start` (our children, which
    /// we wait for, count as ours).
    pub fn other_cores(&self) -> f64 {
        let (own, children) = stat_ticks();
        let system = system_busy_ticks().saturating_sub(self.system) as f64;
        let own = (own + children).saturating_sub(self.own) as f64;
        let wall = self.start.elapsed().as_secs_f64().max(1e-3);
        ((system - own) / 100.0 / wall).max(0.0)
    }
}

// ---------------------------------------------------------------- allocations

/// `System` with counters: allocations (alloc, alloc_zeroed and realloc calls), bytes
/// requested, and bytes live.
pub struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static ALLOC_BYTES: AtomicU64 = AtomicU64::new(0);
static LIVE: AtomicI64 = AtomicI64::new(0);

// SAFETY: every call is forwarded unchanged to `System`; the counters are plain atomics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        ALLOC_BYTES.fetch_add(layout.size() as u64, Relaxed);
        LIVE.fetch_add(layout.size() as i64, Relaxed);
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        ALLOC_BYTES.fetch_add(layout.size() as u64, Relaxed);
        LIVE.fetch_add(layout.size() as i64, Relaxed);
        // SAFETY: the caller upholds `GlobalAlloc::alloc_zeroed`'s contract.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as i64, Relaxed);
        // SAFETY: the caller upholds `GlobalAlloc::dealloc`'s contract.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        ALLOC_BYTES.fetch_add(new_size as u64, Relaxed);
        LIVE.fetch_add(new_size as i64 - layout.size() as i64, Relaxed);
        // SAFETY: the caller upholds `GlobalAlloc::realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Allocator counters at one moment.
#[derive(Clone, Copy, Debug)]
pub struct Allocs {
    pub count: u64,
    pub bytes: u64,
    pub live: i64,
}

impl Allocs {
    pub fn now() -> Allocs {
        Allocs {
            count: ALLOCS.load(Relaxed),
            bytes: ALLOC_BYTES.load(Relaxed),
            live: LIVE.load(Relaxed),
        }
    }

    /// Allocations since `earlier`.
    pub fn since(self, earlier: Allocs) -> Allocs {
        Allocs {
            count: self.count - earlier.count,
            bytes: self.bytes - earlier.bytes,
            live: self.live - earlier.live,
        }
    }
}

/// Resident set size in bytes, from /proc/self/statm.
pub fn rss_bytes() -> u64 {
    let statm = fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// The soft limit on open files, from /proc/self/limits.
pub fn open_files_limit() -> Option<u64> {
    let limits = fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

// ---------------------------------------------------------------- one measurement

/// What one timed run cost: wall time, process CPU time and allocations.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    pub wall: Duration,
    pub cpu_ns: u64,
    pub allocs: Allocs,
}

/// A process-wide measurement in progress.
pub struct Meter {
    start: Instant,
    cpu: u64,
    allocs: Allocs,
}

impl Meter {
    /// Starts measuring the whole process's CPU, wall time and allocations.
    pub fn process() -> Meter {
        let allocs = Allocs::now();
        let cpu = process_cpu_ns();
        Meter {
            start: Instant::now(),
            cpu,
            allocs,
        }
    }

    pub fn stop(&self) -> Sample {
        let wall = self.start.elapsed();
        Sample {
            wall,
            cpu_ns: process_cpu_ns().saturating_sub(self.cpu),
            allocs: Allocs::now().since(self.allocs),
        }
    }
}

/// The median of `values` (the mean of the middle two for an even count).
pub fn median(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

/// Relative spread (max - min) / median, in percent.
pub fn spread(values: &[f64]) -> f64 {
    let m = median(values);
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if m == 0.0 || !m.is_finite() {
        return 0.0;
    }
    (max - min) / m * 100.0
}

// ---------------------------------------------------------------- worker threads

type Job = Box<dyn FnOnce() + Send>;

/// A thread that lives as long as the bench (no thread start-up inside a measurement).
pub struct Worker {
    jobs: mpsc::Sender<Job>,
}

impl Worker {
    pub fn new(name: &str) -> Worker {
        let (jobs, rx) = mpsc::channel::<Job>();
        thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                for job in rx {
                    job();
                }
            })
            .expect("spawn a worker thread");
        Worker { jobs }
    }

    /// Runs `f` on this worker; the receiver gets its result.
    pub fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> mpsc::Receiver<T> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.jobs
            .send(Box::new(move || {
                let _ = tx.send(f());
            }))
            .expect("worker alive");
        rx
    }
}

// ---------------------------------------------------------------- counting transport

/// Counters of a [`Counted`] transport.
#[derive(Default, Debug)]
pub struct IoCounts {
    /// `poll_read` calls that returned bytes.
    pub reads: AtomicU64,
    /// `poll_read` calls that returned `Pending`.
    pub read_pending: AtomicU64,
    pub read_bytes: AtomicU64,
    /// `poll_write` and `poll_write_vectored` calls that wrote bytes.
    pub writes: AtomicU64,
    pub vectored_writes: AtomicU64,
    pub write_pending: AtomicU64,
    pub write_bytes: AtomicU64,
    pub flushes: AtomicU64,
}

/// A transport that counts the calls made on it (forwarding vectored writes).
pub struct Counted<S> {
    pub io: S,
    pub counts: Arc<IoCounts>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Counted<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.io).poll_read(cx, buf);
        match &poll {
            Poll::Ready(Ok(n)) if *n > 0 => {
                self.counts.reads.fetch_add(1, Relaxed);
                self.counts.read_bytes.fetch_add(*n as u64, Relaxed);
            }
            Poll::Pending => {
                self.counts.read_pending.fetch_add(1, Relaxed);
            }
            _ => {}
        }
        poll
    }
}

impl<S: AsyncWrite + Unpin> Counted<S> {
    fn count_write(&self, poll: &Poll<io::Result<usize>>, vectored: bool) {
        match poll {
            Poll::Ready(Ok(n)) if *n > 0 => {
                self.counts.writes.fetch_add(1, Relaxed);
                if vectored {
                    self.counts.vectored_writes.fetch_add(1, Relaxed);
                }
                self.counts.write_bytes.fetch_add(*n as u64, Relaxed);
            }
            Poll::Pending => {
                self.counts.write_pending.fetch_add(1, Relaxed);
            }
            _ => {}
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counted<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.io).poll_write(cx, buf);
        self.count_write(&poll, false);
        poll
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.count_write(&poll, true);
        poll
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.counts.flushes.fetch_add(1, Relaxed);
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_close(cx)
    }
}
