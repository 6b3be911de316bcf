//! The process-wide thread count and the pool that splits one GEMM over output tiles.
//!
//! Native builds keep a persistent rayon pool of `threads − 1` workers; the calling thread takes a
//! share of the tiles itself, so `threads = 2` means one extra worker, not two. rayon rather than a
//! hand-rolled pool of parked std threads: its scopes let workers borrow the caller's slices without
//! lifetime-erasing `unsafe`, and its parking and wake-up are long tested. Work is handed out by an
//! atomic counter, so a core that another process is using simply takes fewer tiles.
//!
//! wasm32 builds without the `atomics` target feature have no shared memory and are single-threaded:
//! `set_threads(n > 1)` is an error there. The threads build (`+atomics`, shared memory) has a pool of
//! its own, [`worker_main`]: the JavaScript side starts `n − 1` workers on the same memory, each of
//! which calls it and stays in it, and the pool hands them passes through atomics.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Below this many flops (2·m·n·k) a product runs on the calling thread: waking a worker costs
/// tens of microseconds on a loaded machine, more than a 1 MFLOP product takes (~10 µs at 100 GFLOP/s).
pub(crate) const PARALLEL_MIN_FLOP: usize = 4 << 20;
/// Smallest share of work worth a task of its own (each task repacks its own A or B block).
const TASK_MIN_FLOP: usize = 1 << 20;
/// Tasks per thread: more than one so the counter can balance cores that are not equally free.
const TASKS_PER_THREAD: usize = 2;

/// More than any machine this runs on has cores; guards against a negative number wrapped to u32.
pub(crate) const MAX_THREADS: usize = 1024;

/// The thread count; 0 until it is first read or set (then the default is chosen, see [`threads`]).
static THREADS: AtomicUsize = AtomicUsize::new(0);
/// Serialises pool changes, so a default chosen on first use cannot overwrite a concurrent `set_threads`.
static CHANGE: std::sync::Mutex<()> = std::sync::Mutex::new(());

thread_local! {
    /// Tests set this to force a split of every product into this many tasks, whatever its size.
    static FORCED_TASKS: Cell<Option<usize>> = const { Cell::new(None) };
    /// Tests set this to force every recurrence onto a team of this many threads ([`Split::Team`]).
    static FORCED_TEAM: Cell<Option<usize>> = const { Cell::new(None) };
}

/// The number of threads the products and recurrences may use: what [`set_threads`] said, else every
/// core this process may run on (`std::thread::available_parallelism`), which measured faster than
/// one thread on 2 cores for the medium and large tiers (bench/README.md); 1 on wasm32 until the
/// threads build's JavaScript side sets it.
pub fn threads() -> usize {
    match THREADS.load(Ordering::Relaxed) {
        0 => choose_default(),
        n => n,
    }
}

fn choose_default() -> usize {
    let _guard = CHANGE.lock().unwrap_or_else(|e| e.into_inner());
    let set = THREADS.load(Ordering::Relaxed);
    if set != 0 {
        return set;
    }
    // wasm32: 1, also in the threads build, whose workers the JavaScript side starts and then counts in.
    let cores = if cfg!(target_arch = "wasm32") {
        1
    } else {
        std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(MAX_THREADS)
    };
    // A pool that cannot start leaves one thread, the caller.
    let n = if pool::resize(cores).is_ok() {
        cores
    } else {
        1
    };
    THREADS.store(n, Ordering::Relaxed);
    n
}

/// Sets the number of threads (the caller included) that large GEMMs are split over, for the
/// whole process. Results are bitwise identical for every thread count: only output tiles are
/// divided, never the inner dimension, so each element is summed in the same order.
///
/// # Errors
/// `n` outside 1..=1024; `n > 1` on wasm32 without atomics (no shared memory), or above one more than
/// the workers that entered [`worker_main`] in the threads build; a pool that cannot be started.
pub fn set_threads(n: usize) -> Result<(), String> {
    if !(1..=MAX_THREADS).contains(&n) {
        return Err(format!("threads must be from 1 to {MAX_THREADS}, got {n}"));
    }
    let _guard = CHANGE.lock().unwrap_or_else(|e| e.into_inner());
    pool::resize(n)?;
    THREADS.store(n, Ordering::Relaxed);
    Ok(())
}

/// Runs `f` with every GEMM split into `tasks` tasks (as far as the tile grid allows), ignoring
/// the size threshold: lets the self-test exercise the split on small shapes. Thread-local.
pub(crate) fn with_forced_tasks<R>(tasks: usize, f: impl FnOnce() -> R) -> R {
    /// Restores the previous setting even if `f` panics.
    struct Restore(Option<usize>);
    impl Drop for Restore {
        fn drop(&mut self) {
            FORCED_TASKS.with(|t| t.set(self.0));
        }
    }
    let _restore = Restore(FORCED_TASKS.with(|t| t.replace(Some(tasks))));
    f()
}

/// How many tasks a product of `flop` flops over `units` splittable tiles should be cut into.
pub(crate) fn tasks_for(flop: usize, units: usize) -> usize {
    if let Some(t) = FORCED_TASKS.with(Cell::get) {
        return t.clamp(1, units.max(1));
    }
    let n = threads();
    if n == 1 || flop < PARALLEL_MIN_FLOP {
        return 1;
    }
    (n * TASKS_PER_THREAD)
        .min(units)
        .min(flop / TASK_MIN_FLOP)
        .max(1)
}

/// Rows per part when a recurrence is split over the batch: parts are whole multiples of AVX-512's
/// 8-row register tile where the batch allows (AVX2's 6-row tile then leaves one edge tile per part).
const ROW_QUANTUM: usize = 8;

/// Above this many bytes of recurrent weights a recurrence is not split over the batch but runs as
/// one part whose per-step product splits over output columns, so each core reads only its share of
/// W_hh: a part of the batch split streams all of W_hh from L3 every step for its rows, which stops
/// paying past a few MiB. Measured on a Zen 4 EPYC (1 MiB L2, 32 MiB L3; `lstm_profile B,T,F,H`,
/// 2 threads, the two builds alternating, 2026-12-04): the batch split ran 1.16× the team at H = 512
/// and B = 16, 1.18× at B = 32 (training 1.05-1.16×), 1.05-1.08× at H = 640 (6.3 MiB), and 0.73-0.85×
/// at H = 768 (9 MiB) and H = 1024; the wasm threads build at H = 512 1.07× (inference) and 1.10×
/// (training); on a Zen 3 EPYC (512 KiB L2) H = 512 was level. The 1 MiB bound set on a Xeon on
/// 2026-12-01 predates the chunked input product (the batch split then streamed W_ih as well).
const ROW_SPLIT_MAX_WEIGHT_BYTES: usize = 4 << 20;

/// Hidden units per team member are a multiple of this (the widest vector, AVX-512's 16 lanes), so
/// only the last member's cell update has a vector tail.
const UNIT_QUANTUM: usize = 16;

/// How a recurrence runs on the threads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Split {
    /// Parts that each run some batch rows through every step, with no join between steps.
    Rows(Vec<std::ops::Range<usize>>),
    /// One team for the whole call, a member per thread, each owning a fixed range of hidden units
    /// (its columns of all four gates) that it works through first every step, then helps with
    /// what is left of the others' (lstm.rs cuts the ranges into chunks), with a barrier per step.
    Team(Vec<std::ops::Range<usize>>),
}

/// Runs `f` with every recurrence on a team of `members` threads (at most [`threads`]), whatever
/// its size: lets the tests exercise [`Split::Team`] on small shapes. Thread-local.
#[cfg(test)]
pub(crate) fn with_forced_team<R>(members: usize, f: impl FnOnce() -> R) -> R {
    /// Restores the previous setting even if `f` panics.
    struct Restore(Option<usize>);
    impl Drop for Restore {
        fn drop(&mut self) {
            FORCED_TEAM.with(|t| t.set(self.0));
        }
    }
    let _restore = Restore(FORCED_TEAM.with(|t| t.replace(Some(members))));
    f()
}

/// `hidden` units cut into at most `members` ranges of whole [`UNIT_QUANTUM`]s (the last one ragged).
fn unit_ranges(hidden: usize, members: usize) -> Vec<std::ops::Range<usize>> {
    let per = hidden
        .div_ceil(members.max(1))
        .next_multiple_of(UNIT_QUANTUM)
        .max(1);
    (0..hidden)
        .step_by(per)
        .map(|s| s..hidden.min(s + per))
        .collect()
}

/// How to run a recurrence of `rows` batch rows and `hidden` units per direction, worth `flop` flops
/// in all, over recurrent weights of `weight_bytes`: split over rows ([`row_parts`]) while the
/// weights fit [`ROW_SPLIT_MAX_WEIGHT_BYTES`], else on a team over hidden units, so each core reads
/// only its share of W_hh every step. A team needs every member running at once (they meet at a
/// barrier each step), so it is never formed inside a pool worker, where the pool may have no
/// thread left for the other members; nor with fewer units than one quantum per member.
pub(crate) fn recurrence_split(
    rows: usize,
    hidden: usize,
    flop: usize,
    weight_bytes: usize,
) -> Split {
    let inside_pool = pool::inside();
    let members = match FORCED_TEAM.with(Cell::get) {
        Some(m) if !inside_pool => m.clamp(1, threads()),
        Some(_) => 1,
        None if FORCED_TASKS.with(Cell::get).is_some() => 1,
        None if threads() == 1
            || inside_pool
            || flop < PARALLEL_MIN_FLOP
            || weight_bytes <= ROW_SPLIT_MAX_WEIGHT_BYTES =>
        {
            1
        }
        None => threads(),
    };
    let units = unit_ranges(hidden, members);
    if members > 1 && units.len() > 1 {
        Split::Team(units)
    } else {
        Split::Rows(row_parts(rows, flop, weight_bytes))
    }
}

/// A barrier for the members of one team, spinning (then yielding) rather than parking: a step of
/// the large tier is ~0.5 ms, and a futex wake-up costs tens of microseconds on a loaded machine.
/// Release on arrival, acquire on leaving, so what a member wrote before it is visible after it.
pub(crate) struct Barrier {
    members: usize,
    arrived: AtomicUsize,
    generation: AtomicUsize,
}

impl Barrier {
    /// A barrier for `members` threads.
    pub(crate) fn new(members: usize) -> Self {
        Self {
            members,
            arrived: AtomicUsize::new(0),
            generation: AtomicUsize::new(0),
        }
    }

    /// Returns once every member has called `wait` as often as this one.
    pub(crate) fn wait(&self) {
        let generation = self.generation.load(Ordering::Acquire);
        if self.arrived.fetch_add(1, Ordering::AcqRel) + 1 == self.members {
            // Last to arrive: reset before releasing, so no one arrives early at the next round.
            self.arrived.store(0, Ordering::Relaxed);
            self.generation.fetch_add(1, Ordering::Release);
            return;
        }
        let mut spins = 0u32;
        while self.generation.load(Ordering::Acquire) == generation {
            // Spin briefly, then give the core away: a member descheduled by another process
            // would otherwise be kept off its core by our spinning.
            if spins < 1 << 12 {
                std::hint::spin_loop();
                spins += 1;
            } else {
                std::thread::yield_now();
            }
        }
    }
}

/// Runs `f(0..members)` at the same time, each on its own thread (the caller takes member 0), for
/// code that synchronises its members ([`Barrier`]). `members` must not exceed [`threads`] and the
/// caller must not be a pool worker ([`recurrence_split`] checks both).
pub(crate) fn team(members: usize, f: &(dyn Fn(usize) + Sync)) {
    if members <= 1 {
        (0..members).for_each(f);
        return;
    }
    pool::team(members, f);
}

/// How to cut `rows` batch rows of a recurrence worth `flop` flops in all (every step, one call)
/// over recurrent weights of `weight_bytes` into parts run side by side for the whole sequence: the
/// row ranges, one per part. One part when single-threaded, when the call is too small to repay a
/// wake-up, when the weights exceed [`ROW_SPLIT_MAX_WEIGHT_BYTES`], or (tests) as forced.
pub(crate) fn row_parts(
    rows: usize,
    flop: usize,
    weight_bytes: usize,
) -> Vec<std::ops::Range<usize>> {
    let parts = match FORCED_TASKS.with(Cell::get) {
        Some(t) => t.clamp(1, rows.max(1)),
        None if threads() == 1
            || flop < PARALLEL_MIN_FLOP
            || weight_bytes > ROW_SPLIT_MAX_WEIGHT_BYTES =>
        {
            1
        }
        None => threads().min(rows.div_ceil(ROW_QUANTUM)).max(1),
    };
    // Equal parts in whole quanta where the batch allows, else in single rows (forced splits).
    let quantum = if rows >= parts * ROW_QUANTUM {
        ROW_QUANTUM
    } else {
        1
    };
    let per = rows.div_ceil(quantum).div_ceil(parts) * quantum;
    (0..rows)
        .step_by(per.max(1))
        .map(|s| s..rows.min(s + per))
        .collect()
}

/// Runs `f` with every product inside it on the calling thread: the body of one part of a split
/// recurrence, which already has a core to itself.
pub(crate) fn serial<R>(f: impl FnOnce() -> R) -> R {
    with_forced_tasks(1, f)
}

/// Below this many elements a pointwise pass (bias fill, bias sums) runs on the calling thread.
const PARALLEL_MIN_ELEMENTS: usize = 1 << 16;

/// Calls `f` on consecutive ranges covering `0..len`, one per thread (or as forced), side by side:
/// for the memory-bound passes around the products (bias fills, bias sums) that would otherwise
/// run on one thread while the others wait. `elements` is the work of the whole pass; below
/// [`PARALLEL_MIN_ELEMENTS`] it is one range.
pub(crate) fn for_ranges(len: usize, elements: usize, f: &(dyn Fn(std::ops::Range<usize>) + Sync)) {
    let parts = match FORCED_TASKS.with(Cell::get) {
        Some(t) => t.clamp(1, len.max(1)),
        None if elements < PARALLEL_MIN_ELEMENTS => 1,
        None => threads().min(len).max(1),
    };
    let per = len.div_ceil(parts).max(1);
    for_each(len.div_ceil(per), &|i| f(i * per..len.min((i + 1) * per)));
}

/// Calls `f(0..tasks)` once each, spread over the pool and the calling thread.
pub(crate) fn for_each(tasks: usize, f: &(dyn Fn(usize) + Sync)) {
    if tasks <= 1 || threads() == 1 {
        (0..tasks).for_each(f);
        return;
    }
    pool::run(tasks, f);
}

/// Runs `f` with the pool's workers held for it: between the parallel passes inside `f` they spin
/// (then yield) waiting for the next one instead of going back to sleep, and each pass is handed to
/// them through a shared slot rather than rayon's queue. For one model call (a training step, a
/// forward pass) whose passes are short: measured here (2-core VM), a sleeping worker starts a
/// pass ~35 µs after it is posted and the caller, waiting for it, sleeps and wakes as long again,
/// while a pass of the seed tier (H = 16) takes 50-150 µs; a held worker starts within a
/// microsecond. Nested calls, a single thread, calls from a pool worker and calls worth under
/// [`PARALLEL_MIN_FLOP`] in all (`flop`: the caller's estimate; nothing in them is split, and waking a
/// worker for nothing cost a tiny training step, B 2 T 10, ~10% here) run `f` as it is. The passes
/// are cut exactly as without the hold, so the results are the same bits. Forced splits (tests)
/// hold whatever the size, so that small cases exercise the held passes.
pub(crate) fn hold<R>(flop: usize, f: impl FnOnce() -> R) -> R {
    let forced = FORCED_TASKS.with(Cell::get).is_some() || FORCED_TEAM.with(Cell::get).is_some();
    if threads() == 1 || (flop < PARALLEL_MIN_FLOP && !forced) {
        return f();
    }
    pool::hold(f)
}

#[cfg(not(target_arch = "wasm32"))]
mod pool {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex, RwLock};

    /// The workers besides the caller; `None` while `threads() == 1`.
    static POOL: RwLock<Option<Arc<rayon::ThreadPool>>> = RwLock::new(None);

    pub(super) fn resize(n: usize) -> Result<(), String> {
        let pool = if n > 1 {
            let built = rayon::ThreadPoolBuilder::new()
                .num_threads(n - 1)
                .thread_name(|i| format!("cellstate-gemm-{i}"))
                .build()
                .map_err(|e| format!("could not start {} worker threads: {e}", n - 1))?;
            Some(Arc::new(built))
        } else {
            None
        };
        // The old pool's workers exit when the last running product drops its Arc.
        *POOL.write().unwrap_or_else(|e| e.into_inner()) = pool;
        Ok(())
    }

    /// Whether the calling thread is one of the pool's workers.
    pub(super) fn inside() -> bool {
        rayon::current_thread_index().is_some()
    }

    pub(super) fn team(members: usize, f: &(dyn Fn(usize) + Sync)) {
        if let Some(held) = Held::current() {
            held.post(members, f);
            return;
        }
        let pool = POOL.read().unwrap_or_else(|e| e.into_inner()).clone();
        let pool = pool.expect("a team of several threads needs the pool (threads() > 1)");
        assert!(
            members <= pool.current_num_threads() + 1,
            "a team of {members} needs {} workers, the pool has {}",
            members - 1,
            pool.current_num_threads()
        );
        // One spawn per member besides the caller: every member gets a thread of its own (the
        // pool has enough idle workers), so the barrier cannot wait on a member that never starts.
        pool.in_place_scope(|s| {
            for i in 1..members {
                s.spawn(move |_| f(i));
            }
            f(0);
        });
    }

    pub(super) fn run(tasks: usize, f: &(dyn Fn(usize) + Sync)) {
        let next = AtomicUsize::new(0);
        let claim = || loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= tasks {
                break;
            }
            f(i);
        };
        if let Some(held) = Held::current() {
            // Every held worker claims tasks, as many as are present (none is waited for).
            held.post(0, &|_| claim());
            return;
        }
        let pool = POOL.read().unwrap_or_else(|e| e.into_inner()).clone();
        let Some(pool) = pool else {
            (0..tasks).for_each(f);
            return;
        };
        let helpers = pool.current_num_threads().min(tasks - 1);
        // The scope returns only when every helper is done, so the borrows of `f` end in time.
        pool.in_place_scope(|s| {
            for _ in 0..helpers {
                s.spawn(|_| claim());
            }
            claim();
        });
    }

    /// A pass posted to the held workers: `f` and how many members it needs (0: any number).
    #[derive(Clone, Copy)]
    struct Job {
        /// Lifetime-erased; see [`Held::post`] for why it outlives every call through it.
        f: *const (dyn Fn(usize) + Sync + 'static),
        members: usize,
    }

    /// What the caller and its held workers share, guarded by [`Held::state`].
    struct State {
        /// Number of the last posted pass; a worker runs each pass posted after it arrived.
        generation: usize,
        job: Option<Job>,
        /// Workers that have arrived (they number themselves 1, 2, .. in that order).
        present: usize,
    }

    /// The slot through which [`hold`] hands passes to the pool's workers.
    struct Held {
        state: Mutex<State>,
        /// Mirrors `State::generation`, for the workers to spin on without the lock.
        posted: AtomicUsize,
        /// Workers the current pass waits for: those present when it was posted and those that
        /// arrived while it ran (changed only under the lock).
        expected: AtomicUsize,
        /// Workers done with the current pass.
        acks: AtomicUsize,
        released: AtomicBool,
        /// The pool the workers come from (asked for them when the hold starts; a call does not
        /// wait for a worker still on its way when it ends, the `Arc` keeps this alive for it).
        pool: Arc<rayon::ThreadPool>,
        spawned: AtomicBool,
    }

    // SAFETY: `Job::f` is only called while the `post` that stored it waits for the calls to end
    // (and the closure behind it is `Sync`); everything else is atomics or behind the mutex.
    unsafe impl Sync for Held {}
    // SAFETY: as above; the caller and the workers share it through an `Arc`.
    unsafe impl Send for Held {}

    thread_local! {
        /// The `Held` the calling thread posts its passes to, while it holds the workers.
        static CURRENT: std::cell::RefCell<Option<Arc<Held>>> = const { std::cell::RefCell::new(None) };
    }

    /// Spins on `done`, yielding the core after a while (a worker may have lost its core).
    fn spin_until(done: impl Fn() -> bool) {
        let mut spins = 0u32;
        while !done() {
            if spins < 1 << 12 {
                std::hint::spin_loop();
                spins += 1;
            } else {
                std::thread::yield_now();
            }
        }
    }

    impl Held {
        fn current() -> Option<Arc<Held>> {
            CURRENT.with(|c| c.borrow().clone())
        }

        fn lock(&self) -> std::sync::MutexGuard<'_, State> {
            self.state.lock().unwrap_or_else(|e| e.into_inner())
        }

        /// Asks the pool for its workers (once).
        fn spawn(self: &Arc<Self>) {
            if !self.spawned.swap(true, Ordering::Relaxed) {
                for _ in 0..self.pool.current_num_threads() {
                    let held = Arc::clone(self);
                    self.pool.spawn(move || held.serve());
                }
            }
        }

        /// Runs `f(0)` here and `f(i)` on held worker `i` for every `i < members` (`members` 0:
        /// every worker present), returning when all of them are done. A team (`members > 1`)
        /// first waits for its members to arrive: they meet at barriers.
        fn post(self: &Arc<Self>, members: usize, f: &(dyn Fn(usize) + Sync)) {
            self.spawn();
            if members > 1 {
                spin_until(|| self.lock().present + 1 >= members);
            }
            // SAFETY: only the lifetime is erased; this call returns after every worker that
            // could call through the pointer has acknowledged the pass (`acks == expected`),
            // and the pointer is cleared before the closure's borrow ends.
            let f_static: &(dyn Fn(usize) + Sync + 'static) = unsafe { std::mem::transmute(f) };
            {
                let mut st = self.lock();
                st.generation += 1;
                st.job = Some(Job {
                    f: f_static,
                    members,
                });
                self.expected.store(st.present, Ordering::Relaxed);
                self.acks.store(0, Ordering::Relaxed);
                self.posted.store(st.generation, Ordering::Release);
            }
            /// Waits for the workers even when `f(0)` panics, so no worker calls a dead closure.
            struct Wait<'a>(&'a Held);
            impl Drop for Wait<'_> {
                fn drop(&mut self) {
                    let held = self.0;
                    loop {
                        spin_until(|| {
                            held.acks.load(Ordering::Acquire)
                                >= held.expected.load(Ordering::Acquire)
                        });
                        // Confirmed under the lock, which a worker joining the pass takes.
                        let mut st = held.lock();
                        if held.acks.load(Ordering::Acquire)
                            >= held.expected.load(Ordering::Relaxed)
                        {
                            st.job = None;
                            return;
                        }
                    }
                }
            }
            let _wait = Wait(self);
            f(0);
        }

        /// A held worker's loop: runs each pass posted after it arrived until released.
        fn serve(&self) {
            let (me, mut seen) = {
                let mut st = self.lock();
                st.present += 1;
                if st.job.is_some() {
                    // A pass is running (the caller did not wait for this worker to wake up):
                    // join it, to claim what is left of its tasks.
                    self.expected.fetch_add(1, Ordering::Release);
                    (st.present, st.generation - 1)
                } else {
                    (st.present, st.generation)
                }
            };
            loop {
                spin_until(|| {
                    self.posted.load(Ordering::Acquire) != seen
                        || self.released.load(Ordering::Acquire)
                });
                let job = {
                    let st = self.lock();
                    if st.generation == seen {
                        // Released with no pass left.
                        return;
                    }
                    seen = st.generation;
                    st.job
                };
                /// Acknowledges the pass even if it panics (the caller waits for it).
                struct Ack<'a>(&'a AtomicUsize);
                impl Drop for Ack<'_> {
                    fn drop(&mut self) {
                        self.0.fetch_add(1, Ordering::Release);
                    }
                }
                let _ack = Ack(&self.acks);
                if let Some(job) = job {
                    if job.members == 0 || me < job.members {
                        // SAFETY: the poster waits for this pass's acknowledgement (see `post`).
                        unsafe { (*job.f)(me) };
                    }
                }
            }
        }
    }

    pub(super) fn hold<R>(f: impl FnOnce() -> R) -> R {
        if inside() || Held::current().is_some() {
            return f();
        }
        let pool = POOL.read().unwrap_or_else(|e| e.into_inner()).clone();
        let Some(pool) = pool else {
            return f();
        };
        let held = Arc::new(Held {
            state: Mutex::new(State {
                generation: 0,
                job: None,
                present: 0,
            }),
            posted: AtomicUsize::new(0),
            expected: AtomicUsize::new(0),
            acks: AtomicUsize::new(0),
            released: AtomicBool::new(false),
            pool,
            spawned: AtomicBool::new(false),
        });
        /// Releases the workers and forgets the slot, also when `f` panics. Workers still on
        /// their way leave as soon as they arrive; no one waits for them.
        struct Release(Arc<Held>);
        impl Drop for Release {
            fn drop(&mut self) {
                CURRENT.with(|c| c.borrow_mut().take());
                self.0.released.store(true, Ordering::Release);
            }
        }
        held.spawn();
        CURRENT.with(|c| *c.borrow_mut() = Some(Arc::clone(&held)));
        let _release = Release(held);
        f()
    }
}

#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
mod pool {
    pub(super) fn resize(n: usize) -> Result<(), String> {
        if n > 1 {
            return Err(format!(
                "threads must be 1 in the wasm backend (got {n}): this wasm build has no shared memory, \
                 so it cannot run threads; use the native backend for more"
            ));
        }
        Ok(())
    }

    pub(super) fn run(tasks: usize, f: &(dyn Fn(usize) + Sync)) {
        (0..tasks).for_each(f);
    }

    pub(super) fn inside() -> bool {
        false
    }

    pub(super) fn hold<R>(f: impl FnOnce() -> R) -> R {
        f()
    }

    pub(super) fn team(members: usize, f: &(dyn Fn(usize) + Sync)) {
        assert!(
            members <= 1,
            "wasm32 has no threads for a team of {members}"
        );
        (0..members).for_each(f);
    }
}

/// The threads build's worker loop (wasm32 with `+atomics`): a JavaScript worker that instantiated
/// the module on the shared memory calls this once and never returns from it. Workers number
/// themselves 1, 2, .. in the order they arrive; `set_threads(n)` then accepts `n` up to one more than
/// the workers that have arrived.
#[cfg(all(target_arch = "wasm32", target_feature = "atomics"))]
pub fn worker_main() -> ! {
    pool::serve()
}

/// Workers of the threads build that have called [`worker_main`]; 0 in every other build.
pub fn workers() -> usize {
    #[cfg(all(target_arch = "wasm32", target_feature = "atomics"))]
    return pool::workers();
    #[cfg(not(all(target_arch = "wasm32", target_feature = "atomics")))]
    0
}

/// The threads build's pool. It cannot use rayon (std cannot spawn threads on wasm32: JavaScript
/// starts them) nor block the calling thread (a browser's main thread may not `memory.atomic.wait`),
/// so the caller spins while a pass runs, and only idle workers sleep in `memory.atomic.wait32`.
/// One pass at a time: a pass is posted only by the thread that called into the core, and passes
/// never nest (a worker runs its share serially, see [`super::serial`] and `inside`).
#[cfg(all(target_arch = "wasm32", target_feature = "atomics"))]
mod pool {
    use std::arch::wasm32::{memory_atomic_notify, memory_atomic_wait32};
    use std::cell::Cell;
    use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};

    /// Workers that have arrived in [`serve`].
    static WORKERS: AtomicUsize = AtomicUsize::new(0);
    /// Workers the pool uses: `threads() − 1`, at most [`WORKERS`].
    static ACTIVE: AtomicUsize = AtomicUsize::new(0);
    /// Number of the last posted pass; idle workers wait on it.
    static POSTED: AtomicI32 = AtomicI32::new(0);
    /// The posted pass: the closure's fat pointer in two halves, and how many members it needs
    /// (0: any number). Written before `POSTED` is released, read after it is acquired.
    static JOB_DATA: AtomicUsize = AtomicUsize::new(0);
    static JOB_VTABLE: AtomicUsize = AtomicUsize::new(0);
    static JOB_MEMBERS: AtomicUsize = AtomicUsize::new(0);
    /// Active workers done with the current pass.
    static ACKS: AtomicUsize = AtomicUsize::new(0);

    /// Spins of an idle worker before it sleeps: the gap between the passes of one call (a step's
    /// products, a pointwise pass) is far shorter than a wake-up from `memory.atomic.wait32`.
    const IDLE_SPINS: u32 = 1 << 16;

    thread_local! {
        static WORKER: Cell<bool> = const { Cell::new(false) };
        /// Set while this thread (the caller) has a pass posted.
        static POSTING: Cell<bool> = const { Cell::new(false) };
    }

    pub(super) fn workers() -> usize {
        WORKERS.load(Ordering::Acquire)
    }

    pub(super) fn resize(n: usize) -> Result<(), String> {
        let have = workers();
        if n > have + 1 {
            return Err(format!(
                "threads must be at most {} in this wasm module: {n} threads need {} workers on its memory, \
                 {have} started (loadBackend({{ backend: 'wasm', wasmThreads: {n} }}) starts them)",
                have + 1,
                n - 1
            ));
        }
        ACTIVE.store(n - 1, Ordering::Release);
        Ok(())
    }

    pub(super) fn inside() -> bool {
        WORKER.with(Cell::get)
    }

    pub(super) fn hold<R>(f: impl FnOnce() -> R) -> R {
        f()
    }

    pub(super) fn team(members: usize, f: &(dyn Fn(usize) + Sync)) {
        assert!(
            members <= ACTIVE.load(Ordering::Acquire) + 1,
            "a team of {members} needs {} workers",
            members - 1
        );
        post(members, f);
    }

    pub(super) fn run(tasks: usize, f: &(dyn Fn(usize) + Sync)) {
        let next = AtomicUsize::new(0);
        let claim = |_: usize| loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= tasks {
                break;
            }
            f(i);
        };
        post(0, &claim);
    }

    /// Runs `f(0)` here and `f(i)` on worker `i` for every active worker (`members` 0) or every
    /// `i < members`, returning when every active worker is done with it.
    fn post(members: usize, f: &(dyn Fn(usize) + Sync)) {
        let active = ACTIVE.load(Ordering::Acquire);
        // A pass posted from inside a pass (a worker's share, or the caller's `f(0)`, splitting a product of its
        // own) runs here, serially: the slot holds one pass, and rayon's nesting has no counterpart here.
        if active == 0 || inside() || POSTING.with(Cell::get) {
            assert!(
                members <= 1,
                "a team of {members} cannot be formed inside a pass"
            );
            (0..members.max(1)).for_each(f);
            return;
        }
        /// Clears `POSTING` when the pass ends.
        struct Posting;
        impl Drop for Posting {
            fn drop(&mut self) {
                POSTING.with(|p| p.set(false));
            }
        }
        POSTING.with(|p| p.set(true));
        let _posting = Posting;
        // SAFETY: a fat pointer is two words; it is called only until every active worker has
        // acknowledged this pass, and this function waits for that before `f`'s borrow ends.
        let [data, vtable]: [usize; 2] =
            unsafe { std::mem::transmute(f as *const (dyn Fn(usize) + Sync)) };
        JOB_DATA.store(data, Ordering::Relaxed);
        JOB_VTABLE.store(vtable, Ordering::Relaxed);
        JOB_MEMBERS.store(members, Ordering::Relaxed);
        ACKS.store(0, Ordering::Relaxed);
        POSTED.fetch_add(1, Ordering::Release);
        // SAFETY: the address is a live, aligned i32 of the shared memory.
        unsafe { memory_atomic_notify(POSTED.as_ptr(), u32::MAX) };
        f(0);
        // Spin, not wait: this may be a browser's main thread. panic = abort on wasm32, so a panic
        // in `f(0)` cannot leave a worker calling a dead closure.
        while ACKS.load(Ordering::Acquire) < active {
            std::hint::spin_loop();
        }
    }

    /// A worker's loop: takes a number, then runs every pass posted after it arrived.
    pub(super) fn serve() -> ! {
        WORKER.with(|w| w.set(true));
        // Read before taking a number: a pass posted after that counts this worker (`resize` may
        // have made it active), so it must look new to it.
        let mut seen = POSTED.load(Ordering::Acquire);
        let me = WORKERS.fetch_add(1, Ordering::AcqRel) + 1;
        loop {
            let mut spins = 0u32;
            let mut posted = POSTED.load(Ordering::Acquire);
            while posted == seen {
                if spins < IDLE_SPINS {
                    std::hint::spin_loop();
                    spins += 1;
                } else {
                    // SAFETY: as in `post`; returns when notified or when the value already differs.
                    unsafe { memory_atomic_wait32(POSTED.as_ptr(), seen, -1) };
                }
                posted = POSTED.load(Ordering::Acquire);
            }
            seen = posted;
            // Only the first `ACTIVE` workers take part; the others (after set_threads lowered the
            // count) sit the pass out and are not waited for.
            if me > ACTIVE.load(Ordering::Acquire) {
                continue;
            }
            let members = JOB_MEMBERS.load(Ordering::Relaxed);
            if members == 0 || me < members {
                let parts = [
                    JOB_DATA.load(Ordering::Relaxed),
                    JOB_VTABLE.load(Ordering::Relaxed),
                ];
                // SAFETY: the two words `post` stored for this pass; it waits for our acknowledgement.
                let f: *const (dyn Fn(usize) + Sync) = unsafe { std::mem::transmute(parts) };
                // SAFETY: the closure lives until `post` has counted this worker's acknowledgement below.
                unsafe { (*f)(me) };
            }
            ACKS.fetch_add(1, Ordering::Release);
        }
    }
}
