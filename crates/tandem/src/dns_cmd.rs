//! `tandem dns --config tandem.toml`: the authoritative DNS server of the
//! `[dns]` section; its regions default to the file's `[[regions]]`. Also the
//! DNS part of `tandem status`, and the dev zone `tandem dev` serves.

use std::io::Write;
use std::path::Path;

use serde_json::{Value, json};
use tandem_dns::{DnsConfig, DnsRegion, RunningDns};

use crate::config::Config;

/// The `[dns]` section with its regions filled in from `[[regions]]` when it names none.
pub fn dns_config(config: &Config) -> Result<DnsConfig, String> {
    let mut dns = config.dns.clone().ok_or("the config has no [dns] section")?;
    if dns.regions.is_empty() {
        dns.regions = config
            .regions
            .iter()
            .map(|r| DnsRegion {
                name: r.name.clone(),
                url: r.url(),
                addresses: Vec::new(),
            })
            .collect();
    }
    Ok(dns)
}

pub async fn run(path: &Path) -> Result<(), String> {
    let config = Config::load(path).map_err(|e| e.to_string())?;
    let running = tandem_dns::start(&dns_config(&config)?).await?;
    println!("tandem dns: serving on {} (UDP and TCP)", running.dns_addr);
    if let Some(http) = running.http_addr {
        println!("tandem dns: metrics on http://{http}/metrics");
    }
    crate::dev::wait_for_signal().await;
    running.shutdown().await;
    Ok(())
}

/// The `[dns]` section of `tandem dev`: zone `tandem.test` with `api` (the
/// photos app's write region) and a name per region.
fn dev_toml(config: &Config, port: u16, http_port: u16) -> String {
    let mut text = format!(
        "\n[dns]\nlisten = \"127.0.0.1:{port}\"\nhttp_listen = \"127.0.0.1:{http_port}\"\n\n\
         [[dns.zones]]\nname = \"tandem.test\"\n\n[[dns.zones.records]]\nname = \"api\"\napp = \"photos\"\n"
    );
    for region in &config.regions {
        text.push_str(&format!("\n[[dns.zones.records]]\nname = \"{0}\"\nregion = \"{0}\"\n", region.name));
    }
    text
}

/// Starts the dev DNS server on `base_port + 53` (HTTP port + 54), adds its
/// section to the written config, and prints a `dig` line. A failure is
/// reported and leaves the rest of `tandem dev` running.
pub async fn start_dev(config: &Config, base_port: u16, written: &Path) -> Option<RunningDns> {
    let (port, http_port) = (base_port.checked_add(53)?, base_port.checked_add(54)?);
    let text = dev_toml(config, port, http_port);
    let mut dev = config.clone();
    #[derive(serde::Deserialize)]
    struct Section {
        dns: DnsConfig,
    }
    dev.dns = Some(toml::from_str::<Section>(&text).ok()?.dns);
    let running = match tandem_dns::start(&dns_config(&dev).ok()?).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("tandem dev: DNS not started: {e}");
            return None;
        }
    };
    let appended = std::fs::OpenOptions::new()
        .append(true)
        .open(written)
        .and_then(|mut f| f.write_all(text.as_bytes()));
    if let Err(e) = appended {
        eprintln!("tandem dev: cannot add [dns] to {}: {e}", written.display());
    }
    println!("DNS for zone tandem.test (api = the photos app's write region):");
    println!("dig @127.0.0.1 -p {port} api.tandem.test");
    Some(running)
}

/// The DNS server's view for `tandem status`: None without a `[dns]` HTTP port.
pub async fn status(config: &Config) -> Option<Value> {
    let addr = config.dns.as_ref()?.http_listen?;
    Some(match tandem_dns::fetch_status(addr).await {
        Ok(v) => v,
        Err(e) => json!({ "error": format!("DNS server at {addr} unreachable: {e}") }),
    })
}

/// Prints the DNS server's health checks; returns a problem when it is unreachable.
pub fn print_status(view: &Value) -> Option<String> {
    if let Some(e) = view["error"].as_str() {
        println!("\nDNS: {e}");
        return Some(e.to_string());
    }
    println!(
        "\n{:<12} {:<10} {:>11} {:>8}  LAST ERROR",
        "DNS CHECK", "HEALTHY", "LATENCY ms", "FAILED"
    );
    for r in view["regions"].as_array().into_iter().flatten() {
        println!(
            "{:<12} {:<10} {:>11} {:>8}  {}",
            r["region"].as_str().unwrap_or("?"),
            r["healthy"].to_string(),
            r["latency_ms"].as_f64().map(|l| format!("{l:.1}")).unwrap_or_default(),
            r["failures"].to_string(),
            r["last_error"].as_str().unwrap_or("")
        );
    }
    for a in view["apps"].as_array().into_iter().flatten() {
        println!(
            "DNS app {} answers {} (state {})",
            a["app"].as_str().unwrap_or("?"),
            a["answer_region"].as_str().unwrap_or("-"),
            a["state"].as_str().unwrap_or("?")
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dev_zone_parses_validates_and_points_at_both_dev_regions() {
        let dev = Config::dev(Path::new("/tmp/unused"), 9000);
        #[derive(serde::Deserialize)]
        struct Section {
            dns: DnsConfig,
        }
        let mut with_dns = dev.clone();
        with_dns.dns = Some(toml::from_str::<Section>(&dev_toml(&dev, 9053, 9054)).unwrap().dns);
        let dns = dns_config(&with_dns).unwrap();
        dns.validate().unwrap();
        let names: Vec<&str> = dns.regions.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["us-east", "ap-tokyo"]);
        assert_eq!(
            dns.regions[0].answer_addresses().unwrap(),
            ["127.0.0.1".parse::<std::net::IpAddr>().unwrap()]
        );
        assert_eq!(dns.apps(), ["photos"]);
    }
}
