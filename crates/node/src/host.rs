//! Virtual-host-style addressing: `Host: <bucket>.<domain>` names a bucket for
//! each configured domain; any other host (an IP, `localhost`) is path-style.

use s3s::S3Result;
use s3s::host::{S3Host, VirtualHost};

/// The domains under which bucket names may appear as subdomains.
pub struct BucketDomains {
    domains: Vec<String>,
}

impl BucketDomains {
    pub fn new(domains: impl IntoIterator<Item = String>) -> Self {
        Self {
            domains: domains.into_iter().map(|d| d.to_ascii_lowercase()).collect(),
        }
    }

    /// The bucket a Host header names, if it is virtual-host style.
    pub fn bucket_of(&self, host: &str) -> Option<String> {
        let name = strip_port(host).to_ascii_lowercase();
        self.domains.iter().find_map(|d| {
            name.strip_suffix(d.as_str())
                .and_then(|b| b.strip_suffix('.'))
                .filter(|b| !b.is_empty())
                .map(str::to_string)
        })
    }
}

fn strip_port(host: &str) -> &str {
    match host.rsplit_once(':') {
        Some((h, port)) if !host.starts_with('[') && port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}

impl S3Host for BucketDomains {
    fn parse_host_header<'a>(&'a self, host: &'a str) -> S3Result<VirtualHost<'a>> {
        Ok(match self.bucket_of(host) {
            Some(bucket) => VirtualHost::new(host).with_bucket(bucket),
            None => VirtualHost::new(host),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subdomain_of_a_configured_domain_is_a_bucket() {
        let d = BucketDomains::new(["localhost".to_string(), "s3.example.test".to_string()]);
        assert_eq!(d.bucket_of("photos.localhost:9000").as_deref(), Some("photos"));
        assert_eq!(d.bucket_of("my.bucket.s3.example.test").as_deref(), Some("my.bucket"));
        assert_eq!(d.bucket_of("localhost:9000"), None);
        assert_eq!(d.bucket_of("127.0.0.1:9000"), None);
        assert_eq!(d.bucket_of("evil-localhost"), None);
    }
}
