//! DNS TXT lookups for domain verification (issue "8 of 11" item 1): the
//! system resolver (hickory, reading the host's resolver configuration),
//! or — for tests and air-gapped evaluation — a fixture file of records
//! (`domains.txt_fixture_file`, JSON `{"_rollcall-challenge.acme.com":
//! ["rollcall-verification=…"]}`) read at every lookup, so a test can add a
//! record after the challenge is issued. A leaf module.

use std::collections::HashMap;
use std::path::PathBuf;

use hickory_resolver::TokioResolver;

/// Why a lookup gave no answer (other than "no such record", which is an
/// empty answer).
#[derive(Debug, thiserror::Error)]
#[error("DNS lookup of {name} failed: {reason}")]
pub struct DnsError {
    pub name: String,
    pub reason: String,
}

/// Where TXT records come from.
#[derive(Debug, Clone)]
pub enum TxtResolver {
    /// The host's resolver configuration, read at each lookup (verification
    /// is rare; a changed resolv.conf is picked up).
    System,
    Fixture(PathBuf),
}

impl TxtResolver {
    /// The resolver configured: the fixture file when one is set, else DNS.
    pub fn new(fixture: Option<PathBuf>) -> TxtResolver {
        match fixture {
            Some(path) => TxtResolver::Fixture(path),
            None => TxtResolver::System,
        }
    }

    /// The TXT strings published at `name` (each record's strings joined);
    /// empty when there is no such record.
    pub async fn txt(&self, name: &str) -> Result<Vec<String>, DnsError> {
        let fail = |reason: String| DnsError {
            name: name.to_owned(),
            reason,
        };
        match self {
            TxtResolver::System => {
                let resolver = TokioResolver::builder_tokio()
                    .map_err(|e| fail(format!("reading the resolver configuration: {e}")))?
                    .build();
                let fqdn = format!("{}.", name.trim_end_matches('.'));
                match resolver.txt_lookup(fqdn).await {
                    Ok(lookup) => Ok(lookup
                        .iter()
                        .map(|txt| {
                            txt.txt_data()
                                .iter()
                                .map(|part| String::from_utf8_lossy(part).into_owned())
                                .collect::<String>()
                        })
                        .collect()),
                    Err(e) if e.is_no_records_found() => Ok(Vec::new()),
                    Err(e) => Err(fail(e.to_string())),
                }
            }
            TxtResolver::Fixture(path) => {
                // A small local file, read at every lookup (tests add records late).
                let text = match std::fs::read_to_string(path) {
                    Ok(t) => t,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
                    Err(e) => return Err(fail(format!("{}: {e}", path.display()))),
                };
                let records: HashMap<String, Vec<String>> = serde_json::from_str(&text)
                    .map_err(|e| fail(format!("{}: {e}", path.display())))?;
                Ok(records
                    .get(name.trim_end_matches('.'))
                    .cloned()
                    .unwrap_or_default())
            }
        }
    }
}
