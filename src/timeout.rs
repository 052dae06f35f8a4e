//! A deadline around a future, on async-io's timer.

use std::future::Future;
use std::time::Duration;

use async_io::Timer;

use crate::error::Result;

/// Runs `work`, or fails with `expired(limit)` once `limit` has passed. `None` waits
/// forever.
pub(crate) async fn deadline<T>(
    limit: Option<Duration>,
    work: impl Future<Output = Result<T>>,
    expired: impl FnOnce(Duration) -> crate::Error,
) -> Result<T> {
    match limit {
        None => work.await,
        Some(limit) => {
            let timer = async {
                Timer::after(limit).await;
                Err(expired(limit))
            };
            futures_lite::future::or(work, timer).await
        }
    }
}
