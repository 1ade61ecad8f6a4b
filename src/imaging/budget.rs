//! The decode budget: one cap, for the whole process, on the memory that decoded pixels take
//! at once. A 37-byte GIF can declare an 8000×8000 screen, and decoding it costs 250 MiB;
//! eight of those at once took the bot to 2 GiB. Every decode now first reserves what its
//! header says it will need and waits (it is queued, never refused) until that fits.
//!
//! - One budget per process ([`DecodeBudget::global`]), sized by `limits.decode_budget_mib`
//!   ([`DecodeBudget::install`]); memory is a process resource, so two engines in one process
//!   (as in the tests) share it.
//! - Each member may hold at most half of it, so one member's bombs queue behind each other
//!   while other members' images still decode. Who a decode is for is set around the work
//!   with [`on_behalf_of`]; decodes outside it share one anonymous member's half.
//! - One image needing more than the whole budget (or than a member's half) is charged the
//!   whole (or the half) and runs alone, rather than never.
//! - Reserving blocks the calling thread. Decoding already runs on the blocking pool
//!   ([`super`]), and a decode never waits for the budget while it holds some, so waiting
//!   cannot deadlock.
//! - The semaphores are tokio's: first come, first served, so a large image waiting at the
//!   head is not starved by a stream of small ones.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The default for `limits.decode_budget_mib`: two 8192² images at once.
pub const DEFAULT_DECODE_BUDGET: u64 = 512 << 20;

/// Permits are KiB: tokio counts permits in `u32` per request, and 8192² × 4 bytes in bytes
/// would not fit.
const UNIT: u64 = 1024;

/// The memory decoded pixels may take at once; see the module documentation.
#[derive(Debug)]
pub struct DecodeBudget {
    total: Arc<Semaphore>,
    /// In KiB, as are the semaphores' permits.
    capacity: u32,
    share: u32,
    /// Each member's semaphore, while they have a decode running or waiting.
    members: Mutex<HashMap<String, Arc<Semaphore>>>,
}

/// Memory reserved in the budget; given back when dropped.
#[derive(Debug)]
#[must_use = "the reservation ends when the permit is dropped"]
pub struct DecodePermit {
    _member: OwnedSemaphorePermit,
    _total: OwnedSemaphorePermit,
}

static GLOBAL: LazyLock<Mutex<Arc<DecodeBudget>>> =
    LazyLock::new(|| Mutex::new(Arc::new(DecodeBudget::new(DEFAULT_DECODE_BUDGET))));

thread_local! {
    static MEMBER: RefCell<Option<String>> = const { RefCell::new(None) };
}

impl DecodeBudget {
    /// A budget of `bytes` (at least 1 KiB), of which one member may hold half.
    pub fn new(bytes: u64) -> DecodeBudget {
        let capacity = u32::try_from(bytes / UNIT).unwrap_or(u32::MAX).max(1);
        DecodeBudget {
            total: Arc::new(Semaphore::new(capacity as usize)),
            capacity,
            share: (capacity / 2).max(1),
            members: Mutex::new(HashMap::new()),
        }
    }

    /// The budget every decode in this process draws from.
    pub fn global() -> Arc<DecodeBudget> {
        GLOBAL.lock().expect("decode budget lock poisoned").clone()
    }

    /// Makes a budget of `bytes` the process's. Installing the size already in place changes
    /// nothing; a new size applies to decodes that start from now on (ones already running
    /// finish against the old budget).
    pub fn install(bytes: u64) {
        let mut global = GLOBAL.lock().expect("decode budget lock poisoned");
        if global.capacity() != DecodeBudget::new(bytes).capacity() {
            *global = Arc::new(DecodeBudget::new(bytes));
        }
    }

    /// Size of the budget in bytes.
    pub fn capacity(&self) -> u64 {
        u64::from(self.capacity) * UNIT
    }

    /// The most one member may hold at once, in bytes.
    pub fn member_share(&self) -> u64 {
        u64::from(self.share) * UNIT
    }

    /// Bytes reserved right now.
    pub fn in_use(&self) -> u64 {
        (u64::from(self.capacity) - self.total.available_permits() as u64) * UNIT
    }

    /// Reserves `bytes` for `member`, blocking this thread until they fit. Call it from the
    /// blocking pool (or a plain thread), as every decode is.
    pub fn acquire(&self, member: &str, bytes: u64) -> DecodePermit {
        let (mine, want) = self.weights(bytes);
        let sem = self.member_semaphore(member);
        if let Ok(member_permit) = sem.clone().try_acquire_many_owned(mine)
            && let Ok(total) = self.total.clone().try_acquire_many_owned(want)
        {
            return DecodePermit { _member: member_permit, _total: total };
        }
        tracing::debug!(member, bytes, in_use = self.in_use(), "decode waits for the memory budget");
        futures::executor::block_on(self.acquire_from(sem, mine, want))
    }

    /// [`DecodeBudget::acquire`] for async callers.
    pub async fn acquire_async(&self, member: &str, bytes: u64) -> DecodePermit {
        let (mine, want) = self.weights(bytes);
        self.acquire_from(self.member_semaphore(member), mine, want).await
    }

    async fn acquire_from(&self, member: Arc<Semaphore>, mine: u32, want: u32) -> DecodePermit {
        // The member's share first, so a member waiting on their own earlier decodes holds
        // nothing of the total meanwhile.
        let member = member.acquire_many_owned(mine).await.expect("the budget never closes");
        let total = self.total.clone().acquire_many_owned(want).await.expect("the budget never closes");
        DecodePermit { _member: member, _total: total }
    }

    /// `bytes` as permits of the member's share and of the total, each capped at what the
    /// semaphore holds so that any one image can run.
    fn weights(&self, bytes: u64) -> (u32, u32) {
        let want = u32::try_from(bytes.div_ceil(UNIT)).unwrap_or(u32::MAX).clamp(1, self.capacity);
        (want.min(self.share), want)
    }

    fn member_semaphore(&self, member: &str) -> Arc<Semaphore> {
        let mut members = self.members.lock().expect("decode budget lock poisoned");
        // A semaphore only the map holds has nothing running or waiting: forget it, so the map
        // is as small as the set of members decoding right now.
        members.retain(|_, sem| Arc::strong_count(sem) > 1);
        members
            .entry(member.to_owned())
            .or_insert_with(|| Arc::new(Semaphore::new(self.share as usize)))
            .clone()
    }
}

/// Runs `work` with its decodes (on this thread) charged to `member`'s share of the budget.
pub fn on_behalf_of<T>(member: &str, work: impl FnOnce() -> T) -> T {
    struct Restore(Option<String>);
    impl Drop for Restore {
        fn drop(&mut self) {
            MEMBER.with(|m| *m.borrow_mut() = self.0.take());
        }
    }
    let _restore = Restore(MEMBER.with(|m| m.replace(Some(member.to_owned()))));
    work()
}

/// Who this thread's decodes are for; empty outside [`on_behalf_of`].
pub(super) fn current_member() -> String {
    MEMBER.with(|m| m.borrow().clone()).unwrap_or_default()
}

/// Reserves `bytes` in the process's budget for the current member.
pub(super) fn reserve(bytes: u64) -> DecodePermit {
    DecodeBudget::global().acquire(&current_member(), bytes)
}
