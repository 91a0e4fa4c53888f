//! Retrying model requests (Factor VIII): 429, 5xx, timeouts, connection resets and truncated
//! streams are retried with exponential backoff and jitter, honouring `Retry-After`; after the
//! last attempt the failure escalates with the last error and request id.

use super::ProviderError;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total attempts, the first included.
    pub attempts: u32,
    pub base: Duration,
    pub max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 3,
            base: Duration::from_secs(1),
            max: Duration::from_secs(30),
        }
    }
}

/// A request that failed for good.
#[derive(Debug, Clone, thiserror::Error)]
#[error("model request failed after {attempts} attempt(s): {last}{}", .request_id.as_ref().map(|r| format!(" (request id {r})")).unwrap_or_default())]
pub struct Escalation {
    pub attempts: u32,
    pub last: ProviderError,
    pub request_id: Option<String>,
}

impl RetryPolicy {
    /// The wait before attempt `attempt + 1`, after `attempt` failed with `err`.
    pub fn delay(&self, attempt: u32, err: &ProviderError) -> Duration {
        if let Some(after) = err.retry_after() {
            return after.min(self.max);
        }
        let exp = self
            .base
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)))
            .min(self.max);
        // Full jitter in [50%, 100%] so many clients do not retry in lockstep.
        let fraction = 0.5 + (random_u64() % 1000) as f64 / 2000.0;
        exp.mul_f64(fraction)
    }

    /// Runs `call` until it succeeds, fails with a non-retryable error, or attempts run out.
    /// `on_retry(attempt, delay, error)` is called before each wait.
    pub async fn run<T, F, Fut>(
        &self,
        mut call: F,
        mut on_retry: impl FnMut(u32, Duration, &ProviderError),
    ) -> Result<T, Escalation>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T, ProviderError>>,
    {
        let mut attempt = 1;
        loop {
            match call(attempt).await {
                Ok(v) => return Ok(v),
                Err(err) => {
                    if !err.retryable() || attempt >= self.attempts {
                        return Err(Escalation {
                            attempts: attempt,
                            request_id: err.request_id().map(str::to_string),
                            last: err,
                        });
                    }
                    let delay = self.delay(attempt, &err);
                    on_retry(attempt, delay, &err);
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
            }
        }
    }
}

fn random_u64() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(status: u16, retry_after: Option<Duration>) -> ProviderError {
        ProviderError::Http {
            status,
            message: "x".into(),
            request_id: Some("r1".into()),
            retry_after,
        }
    }

    #[test]
    fn backoff_grows_with_jitter_and_honours_retry_after() {
        let p = RetryPolicy {
            attempts: 5,
            base: Duration::from_millis(100),
            max: Duration::from_secs(1),
        };
        for _ in 0..50 {
            let d1 = p.delay(1, &http(500, None));
            let d3 = p.delay(3, &http(500, None));
            assert!(
                d1 >= Duration::from_millis(50) && d1 <= Duration::from_millis(100),
                "{d1:?}"
            );
            assert!(
                d3 >= Duration::from_millis(200) && d3 <= Duration::from_millis(400),
                "{d3:?}"
            );
        }
        assert_eq!(
            p.delay(1, &http(429, Some(Duration::from_millis(700)))),
            Duration::from_millis(700)
        );
        assert_eq!(
            p.delay(1, &http(429, Some(Duration::from_secs(90)))),
            Duration::from_secs(1)
        );
    }

    #[tokio::test]
    async fn retries_then_escalates_with_request_id() {
        let p = RetryPolicy {
            attempts: 3,
            base: Duration::from_millis(1),
            max: Duration::from_millis(2),
        };
        let mut retries = 0;
        let err = p
            .run(
                |_| async { Err::<(), _>(http(503, None)) },
                |_, _, _| retries += 1,
            )
            .await
            .unwrap_err();
        assert_eq!(err.attempts, 3);
        assert_eq!(retries, 2);
        assert_eq!(err.request_id.as_deref(), Some("r1"));
        assert!(
            err.to_string().contains("after 3 attempt(s): HTTP 503"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn client_errors_are_not_retried() {
        let p = RetryPolicy::default();
        let err = p
            .run(
                |_| async { Err::<(), _>(http(401, None)) },
                |_, _, _| panic!("no retry"),
            )
            .await
            .unwrap_err();
        assert_eq!(err.attempts, 1);
    }
}
