//! The HTTP client provider tests use: real timeouts and retries, sized so fault tests
//! (429, 5xx, timeouts) finish in milliseconds.

use std::time::Duration;

use keyward::providers::http::{Http, HttpConfig, RetryPolicy};

/// A client with this per-attempt timeout and attempt count, and backoff of a few ms.
pub fn fast_http(request_timeout: Duration, max_attempts: u32) -> Http {
    Http::new(HttpConfig {
        connect_timeout: Duration::from_secs(2),
        request_timeout,
        retry: RetryPolicy {
            max_attempts,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(20),
            max_retry_after: Duration::from_secs(5),
        },
        per_provider_concurrency: 4,
    })
}
