//! The records of the zones served, built from config, and the
//! authoritative lookup: answers, CNAME chains inside the zone, NXDOMAIN and
//! NODATA with the SOA, and dynamic names answered through a [`Rule`].

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use hickory_server::proto::rr::rdata::{A, AAAA, CNAME, NS, SOA, TXT};
use hickory_server::proto::rr::{LowerName, Name, RData, Record, RecordType};

use crate::choose::Rule;
use crate::config::{RecordConfig, ZoneConfig};

/// Longest CNAME chain followed inside a zone.
const MAX_CHAIN: usize = 8;
/// Longest TXT character-string (RFC 1035); longer values are split.
const TXT_CHUNK: usize = 255;

/// One zone, ready to answer.
#[derive(Debug)]
pub struct Zone {
    origin: LowerName,
    soa: Record,
    names: HashMap<LowerName, Node>,
}

/// What one name holds: static records, and at most one dynamic rule.
#[derive(Debug, Default)]
struct Node {
    records: Vec<Record>,
    dynamic: Option<(Rule, u32)>,
}

/// The result of a lookup in a zone.
#[derive(Debug, Default)]
pub struct Lookup {
    pub nxdomain: bool,
    pub answers: Vec<Record>,
    pub authority: Vec<Record>,
}

/// Addresses of the regions a rule picks right now.
pub type Resolve<'a> = dyn Fn(&Rule) -> Vec<IpAddr> + 'a;

impl Zone {
    /// Builds a zone; `all_regions` is the fallback of app records.
    pub fn build(cfg: &ZoneConfig, all_regions: &[String]) -> Result<Self, String> {
        let origin = Name::from_ascii(&cfg.name)
            .map(|n| {
                let mut n = n;
                n.set_fqdn(true);
                n
            })
            .map_err(|e| format!("zone name {:?}: {e}", cfg.name))?;
        let ns_names = match cfg.ns.is_empty() {
            true => vec![
                Name::from_ascii("ns1")
                    .and_then(|n| n.append_domain(&origin))
                    .map_err(|e| e.to_string())?,
            ],
            false => cfg.ns.iter().map(|n| target_name(n, &origin)).collect::<Result<_, _>>()?,
        };
        let soa = soa_record(cfg, &origin, &ns_names)?;
        let mut zone = Zone {
            origin: LowerName::from(origin.clone()),
            soa: soa.clone(),
            names: HashMap::new(),
        };
        zone.node(&origin).records.push(soa);
        for ns in ns_names {
            zone.node(&origin)
                .records
                .push(Record::from_rdata(origin.clone(), cfg.ttl, RData::NS(NS(ns))));
        }
        for record in &cfg.records {
            zone.add(record, cfg.ttl, all_regions)
                .map_err(|e| format!("record {:?}: {e}", record.name))?;
        }
        zone.check_cnames()?;
        Ok(zone)
    }

    /// The node of `name`, created with every empty non-terminal above it.
    fn node(&mut self, name: &Name) -> &mut Node {
        let mut up = name.base_name();
        while up.num_labels() > self.origin.num_labels() {
            self.names.entry(LowerName::from(up.clone())).or_default();
            up = up.base_name();
        }
        self.names.entry(LowerName::from(name.clone())).or_default()
    }

    fn add(&mut self, cfg: &RecordConfig, zone_ttl: u32, all_regions: &[String]) -> Result<(), String> {
        let origin = Name::from(self.origin.clone());
        let name = name_in(&cfg.name, &origin)?;
        let ttl = cfg.ttl.unwrap_or(zone_ttl);
        match &cfg.rtype {
            Some(rtype) => {
                let mut records = Vec::new();
                for value in &cfg.values {
                    records.push(Record::from_rdata(name.clone(), ttl, rdata(rtype, value, &origin)?));
                }
                self.node(&name).records.extend(records);
            }
            None => {
                let rule = rule_of(cfg, all_regions).ok_or("no answer kind")?;
                let node = self.node(&name);
                if node.dynamic.is_some() {
                    return Err("a name has at most one dynamic record".into());
                }
                node.dynamic = Some((rule, ttl));
            }
        }
        Ok(())
    }

    /// A CNAME must be the only data of its name (RFC 1034 3.6.2).
    fn check_cnames(&self) -> Result<(), String> {
        for (name, node) in &self.names {
            let cnames = node.records.iter().filter(|r| r.record_type() == RecordType::CNAME).count();
            if cnames > 0 && (cnames > 1 || node.records.len() > 1 || node.dynamic.is_some()) {
                return Err(format!("{name}: a CNAME cannot have other data"));
            }
        }
        Ok(())
    }

    /// Answers `qtype` at `name` (a name inside this zone).
    pub fn lookup(&self, name: &LowerName, qtype: RecordType, resolve: &Resolve<'_>) -> Lookup {
        let mut out = Lookup::default();
        let mut current = name.clone();
        for _ in 0..MAX_CHAIN {
            let Some(node) = self.names.get(&current) else {
                out.nxdomain = true;
                out.authority.push(self.soa.clone());
                return out;
            };
            if let Some(target) = node.cname_target(qtype) {
                out.answers.extend(node.records.iter().cloned());
                if !self.origin.zone_of(&target) {
                    return out;
                }
                current = target;
                continue;
            }
            let before = out.answers.len();
            node.matching(&Name::from(current.clone()), qtype, resolve, &mut out.answers);
            if out.answers.len() == before {
                out.authority.push(self.soa.clone());
            }
            return out;
        }
        out
    }
}

impl Node {
    /// The CNAME target to follow, unless the query asks for the CNAME itself.
    fn cname_target(&self, qtype: RecordType) -> Option<LowerName> {
        if matches!(qtype, RecordType::CNAME | RecordType::ANY) {
            return None;
        }
        self.records.iter().find_map(|r| match &r.data {
            RData::CNAME(CNAME(target)) => Some(LowerName::from(target.clone())),
            _ => None,
        })
    }

    fn matching(&self, owner: &Name, qtype: RecordType, resolve: &Resolve<'_>, out: &mut Vec<Record>) {
        let any = qtype == RecordType::ANY;
        out.extend(self.records.iter().filter(|r| any || r.record_type() == qtype).cloned());
        let Some((rule, ttl)) = &self.dynamic else { return };
        if !matches!(qtype, RecordType::A | RecordType::AAAA | RecordType::ANY) {
            return;
        }
        push_addresses(owner, rule, *ttl, qtype, resolve, out);
    }
}

fn push_addresses(owner: &Name, rule: &Rule, ttl: u32, qtype: RecordType, resolve: &Resolve<'_>, out: &mut Vec<Record>) {
    for ip in resolve(rule) {
        let data = match (ip, qtype) {
            (IpAddr::V4(v4), RecordType::A | RecordType::ANY) => RData::A(A(v4)),
            (IpAddr::V6(v6), RecordType::AAAA | RecordType::ANY) => RData::AAAA(AAAA(v6)),
            _ => continue,
        };
        out.push(Record::from_rdata(owner.clone(), ttl, data));
    }
}

/// A record's name: `@` is the apex, a final dot makes it absolute (and it
/// must then lie in the zone), anything else is relative to the zone.
fn name_in(text: &str, origin: &Name) -> Result<Name, String> {
    let name = match text {
        "@" => origin.clone(),
        t if t.ends_with('.') => Name::from_ascii(t).map_err(|e| format!("{t:?}: {e}"))?,
        t => Name::from_ascii(t)
            .and_then(|n| n.append_domain(origin))
            .map_err(|e| format!("{t:?}: {e}"))?,
    };
    match origin.zone_of(&name) {
        true => Ok(name),
        false => Err(format!("{name} is outside the zone {origin}")),
    }
}

/// A target name (CNAME, NS): relative to the zone unless it ends with a dot; may lie outside.
fn target_name(text: &str, origin: &Name) -> Result<Name, String> {
    let name = Name::from_ascii(text).map_err(|e| format!("{text:?}: {e}"))?;
    match text.ends_with('.') {
        true => Ok(name),
        false => name.append_domain(origin).map_err(|e| format!("{text:?}: {e}")),
    }
}

fn rdata(rtype: &str, value: &str, origin: &Name) -> Result<RData, String> {
    let bad = |e: &dyn std::fmt::Display| format!("{rtype} value {value:?}: {e}");
    Ok(match rtype.to_ascii_uppercase().as_str() {
        "A" => RData::A(A(value.parse::<Ipv4Addr>().map_err(|e| bad(&e))?)),
        "AAAA" => RData::AAAA(AAAA(value.parse::<Ipv6Addr>().map_err(|e| bad(&e))?)),
        "CNAME" => RData::CNAME(CNAME(target_name(value, origin)?)),
        "NS" => RData::NS(NS(target_name(value, origin)?)),
        "TXT" => RData::TXT(TXT::new(txt_chunks(value))),
        other => return Err(format!("unsupported record type {other:?} (use A, AAAA, CNAME, TXT or NS)")),
    })
}

/// Splits a TXT value into character-strings of at most 255 bytes, on char boundaries.
fn txt_chunks(value: &str) -> Vec<String> {
    let mut chunks = Vec::new();
    let mut current = String::new();
    for c in value.chars() {
        if current.len() + c.len_utf8() > TXT_CHUNK {
            chunks.push(std::mem::take(&mut current));
        }
        current.push(c);
    }
    chunks.push(current);
    chunks
}

fn soa_record(cfg: &ZoneConfig, origin: &Name, ns: &[Name]) -> Result<Record, String> {
    let mname = match &cfg.soa.mname {
        Some(m) => target_name(m, origin)?,
        None => ns.first().cloned().unwrap_or_else(|| origin.clone()),
    };
    let rname = match &cfg.soa.rname {
        Some(r) => target_name(r, origin)?,
        None => Name::from_ascii("hostmaster")
            .and_then(|n| n.append_domain(origin))
            .map_err(|e| e.to_string())?,
    };
    let serial = cfg.soa.serial.unwrap_or(1);
    let minimum = cfg.soa.minimum.unwrap_or(cfg.ttl);
    let soa = SOA::new(mname, rname, serial, 3_600, 600, 86_400, minimum);
    // RFC 2308: negative answers are cached for min(SOA TTL, MINIMUM).
    Ok(Record::from_rdata(origin.clone(), cfg.ttl.min(minimum), RData::SOA(soa)))
}

fn rule_of(cfg: &RecordConfig, all_regions: &[String]) -> Option<Rule> {
    if let Some(r) = &cfg.region {
        return Some(Rule::Region(r.clone()));
    }
    if let Some(f) = &cfg.failover {
        return Some(Rule::Failover {
            primary: f.primary.clone(),
            secondary: f.secondary.clone(),
        });
    }
    if !cfg.weighted.is_empty() {
        return Some(Rule::Weighted(cfg.weighted.iter().map(|w| (w.region.clone(), w.weight)).collect()));
    }
    if !cfg.latency.is_empty() {
        return Some(Rule::Latency(cfg.latency.clone()));
    }
    cfg.app.as_ref().map(|app| Rule::App {
        app: app.clone(),
        fallback: all_regions.to_vec(),
    })
}

/// Every zone served; a query goes to the deepest zone that contains its name.
#[derive(Debug)]
pub struct Zones(Vec<Zone>);

impl Zones {
    pub fn build(configs: &[ZoneConfig], all_regions: &[String]) -> Result<Self, String> {
        let mut zones = configs
            .iter()
            .map(|c| Zone::build(c, all_regions).map_err(|e| format!("zone {}: {e}", c.name)))
            .collect::<Result<Vec<_>, _>>()?;
        zones.sort_by_key(|z| std::cmp::Reverse(z.origin.num_labels()));
        Ok(Self(zones))
    }

    /// The zone that is authoritative for `name`, if any.
    pub fn find(&self, name: &LowerName) -> Option<&Zone> {
        self.0.iter().find(|z| z.origin.zone_of(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone() -> Zone {
        let cfg: ZoneConfig = toml::from_str(
            r#"
            name = "tandem.test"
            [[records]]
            name = "www"
            type = "A"
            values = ["192.0.2.1", "192.0.2.2"]
            ttl = 30
            [[records]]
            name = "alias"
            type = "CNAME"
            values = ["www"]
            [[records]]
            name = "deep.sub"
            type = "TXT"
            values = ["hello"]
            [[records]]
            name = "api"
            failover = { primary = "a", secondary = "b" }
            "#,
        )
        .unwrap();
        Zone::build(&cfg, &[]).unwrap()
    }

    fn lookup(name: &str, qtype: RecordType) -> Lookup {
        let resolve = |_: &Rule| vec!["192.0.2.9".parse().unwrap(), "2001:db8::9".parse().unwrap()];
        zone().lookup(&LowerName::from(Name::from_ascii(name).unwrap()), qtype, &resolve)
    }

    #[test]
    fn static_records_answer_with_their_ttl() {
        let l = lookup("WWW.tandem.test.", RecordType::A);
        assert_eq!(l.answers.len(), 2);
        assert!(l.answers.iter().all(|r| r.ttl == 30));
        assert!(!l.nxdomain && l.authority.is_empty());
    }

    #[test]
    fn missing_name_is_nxdomain_and_missing_type_is_nodata_both_with_the_soa() {
        let nx = lookup("nope.tandem.test.", RecordType::A);
        assert!(nx.nxdomain && nx.answers.is_empty());
        assert_eq!(nx.authority[0].record_type(), RecordType::SOA);
        let nodata = lookup("www.tandem.test.", RecordType::TXT);
        assert!(!nodata.nxdomain && nodata.answers.is_empty());
        assert_eq!(nodata.authority[0].record_type(), RecordType::SOA);
        let empty_non_terminal = lookup("sub.tandem.test.", RecordType::A);
        assert!(!empty_non_terminal.nxdomain, "a name with children exists");
    }

    #[test]
    fn cname_is_followed_inside_the_zone() {
        let l = lookup("alias.tandem.test.", RecordType::A);
        let types: Vec<RecordType> = l.answers.iter().map(|r| r.record_type()).collect();
        assert_eq!(types, [RecordType::CNAME, RecordType::A, RecordType::A]);
    }

    #[test]
    fn dynamic_name_answers_addresses_of_the_asked_family() {
        let a = lookup("api.tandem.test.", RecordType::A);
        assert_eq!(a.answers.len(), 1);
        assert_eq!(a.answers[0].ttl, 60, "the zone default TTL");
        assert_eq!(
            lookup("api.tandem.test.", RecordType::AAAA).answers[0].record_type(),
            RecordType::AAAA
        );
        assert!(lookup("api.tandem.test.", RecordType::MX).answers.is_empty());
    }

    #[test]
    fn long_txt_values_are_split_into_255_byte_strings() {
        let chunks = txt_chunks(&"x".repeat(600));
        assert_eq!(chunks.iter().map(String::len).collect::<Vec<_>>(), [255, 255, 90]);
    }
}
