//! A per-member memo for facts only this process changes (a member's preferences, a ban, a
//! quota override): read from the database the first time they are asked for, then served
//! from memory; whoever writes one replaces or forgets its entry. Concurrent first reads of
//! one key share a single load.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

pub struct Memo<V> {
    entries: Mutex<HashMap<String, Arc<OnceCell<V>>>>,
}

impl<V> Default for Memo<V> {
    fn default() -> Self {
        Memo { entries: Mutex::new(HashMap::new()) }
    }
}

impl<V: Clone> Memo<V> {
    /// The value for `key`, loading it with `load` when it is not known yet.
    pub async fn get_or_load<E, F, Fut>(&self, key: &str, load: F) -> Result<V, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
    {
        let cell = self.entries.lock().expect("memo poisoned").entry(key.to_string()).or_default().clone();
        cell.get_or_try_init(load).await.cloned()
    }

    /// Records what was just written for `key`.
    pub fn set(&self, key: &str, value: V) {
        let cell = Arc::new(OnceCell::new_with(Some(value)));
        self.entries.lock().expect("memo poisoned").insert(key.to_string(), cell);
    }

    /// Drops `key`'s entry after a write: the next read loads it again. A load already under
    /// way finishes on the old entry, which nobody asks again.
    pub fn forget(&self, key: &str) {
        self.entries.lock().expect("memo poisoned").remove(key);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[tokio::test]
    async fn loads_once_then_serves_what_was_written() {
        let memo = Memo::<u32>::default();
        let loads = AtomicU32::new(0);
        let load = || async {
            loads.fetch_add(1, Ordering::SeqCst);
            Ok::<_, ()>(7)
        };
        let (a, b) = tokio::join!(memo.get_or_load("m", load), memo.get_or_load("m", load));
        assert_eq!((a, b), (Ok(7), Ok(7)));
        assert_eq!(loads.load(Ordering::SeqCst), 1, "concurrent first reads share one load");
        memo.set("m", 9);
        assert_eq!(memo.get_or_load("m", load).await, Ok(9));
        memo.forget("m");
        assert_eq!(memo.get_or_load("m", load).await, Ok(7));
        assert_eq!(loads.load(Ordering::SeqCst), 2);
        let failed = memo.get_or_load("x", || async { Err::<u32, _>("down") }).await;
        assert_eq!(failed, Err("down"), "a failed load is not remembered");
        assert_eq!(memo.get_or_load("x", load).await, Ok(7));
    }
}
