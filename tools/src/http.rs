//! The one HTTP client setup every agentops client shares (model providers, Argo CD).

use std::time::Duration;

/// A client with agentops' user agent, a 10 s connect timeout and `timeout` between reads.
pub fn client(timeout: Duration) -> Result<reqwest::Client, String> {
    // reqwest is built without a TLS crypto provider (kube and reqwest would otherwise pick
    // different ones and panic); make sure the process has ring before building a client.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .read_timeout(timeout)
        .user_agent(concat!("agentops/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}
