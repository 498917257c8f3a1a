//! Security group rules (`AWS::EC2::SecurityGroup`), reading `configuration.ipPermissions[]` and
//! `ipPermissionsEgress[]` as spec §6.3 shows them.

use serde_json::Value;

use super::{
    array, as_i64, as_str, configuration, non_compliant, not_applicable, out_of_scope, param_i64,
    param_port_ranges, ManagedEvaluator, SECURITY_GROUP,
};
use crate::domain::ConfigurationItem;
use crate::evaluation::verdict::{Parameters, ResourceLookup, Verdict};

pub(super) static EVALUATORS: &[ManagedEvaluator] = &[
    ManagedEvaluator {
        identifier: "INCOMING_SSH_DISABLED",
        resource_types: &[SECURITY_GROUP],
        related_types: &[],
        evaluate: incoming_ssh_disabled,
    },
    ManagedEvaluator {
        identifier: "RESTRICTED_INCOMING_TRAFFIC",
        resource_types: &[SECURITY_GROUP],
        related_types: &[],
        evaluate: restricted_incoming_traffic,
    },
    ManagedEvaluator {
        identifier: "VPC_SG_OPEN_ONLY_TO_AUTHORIZED_PORTS",
        resource_types: &[SECURITY_GROUP],
        related_types: &[],
        evaluate: open_only_to_authorized_ports,
    },
    ManagedEvaluator {
        identifier: "VPC_DEFAULT_SECURITY_GROUP_CLOSED",
        resource_types: &[SECURITY_GROUP],
        related_types: &[],
        evaluate: default_security_group_closed,
    },
];

const ALL_PORTS: (i64, i64) = (0, 65_535);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    Tcp,
    Udp,
    /// `-1`: every protocol and port.
    All,
    Other,
}

/// One `ipPermissions[]` entry, reduced to what the rules need.
#[derive(Debug, Clone)]
struct Permission {
    protocol: Protocol,
    protocol_name: String,
    /// Inclusive port range; every port for `-1` or when the ports are absent / `-1`.
    ports: (i64, i64),
    /// Open to `0.0.0.0/0` (`ipv4Ranges[].cidrIp` or the legacy `ipRanges[]`).
    open_v4: bool,
    /// Open to `::/0` (`ipv6Ranges[].cidrIpv6`).
    open_v6: bool,
}

impl Permission {
    fn world_open(&self) -> bool {
        self.open_v4 || self.open_v6
    }

    fn source(&self) -> &'static str {
        if self.open_v4 {
            "0.0.0.0/0"
        } else {
            "::/0"
        }
    }

    fn tcp_like(&self) -> bool {
        matches!(self.protocol, Protocol::Tcp | Protocol::All)
    }

    fn overlaps(&self, (a, b): (i64, i64)) -> bool {
        self.ports.0 <= b && a <= self.ports.1
    }

    fn describe(&self) -> String {
        let ports = if self.ports == ALL_PORTS {
            "all ports".to_string()
        } else if self.ports.0 == self.ports.1 {
            format!("port {}", self.ports.0)
        } else {
            format!("ports {}-{}", self.ports.0, self.ports.1)
        };
        match self.protocol {
            Protocol::All => format!("all traffic from {}", self.source()),
            _ => format!("{} {ports} from {}", self.protocol_name, self.source()),
        }
    }
}

fn cidr_is(v: &Value, field: &str, world: &str) -> bool {
    match v {
        Value::String(s) => s.trim() == world,
        Value::Object(m) => m
            .get(field)
            .and_then(Value::as_str)
            .is_some_and(|s| s.trim() == world),
        _ => false,
    }
}

fn permissions(conf: &Value, key: &str) -> Vec<Permission> {
    array(conf.get(key))
        .iter()
        .map(|p| {
            let raw = match p.get("ipProtocol") {
                Some(Value::String(s)) => s.trim().to_ascii_lowercase(),
                Some(Value::Number(n)) => n.to_string(),
                _ => "-1".to_string(),
            };
            let protocol = match raw.as_str() {
                "tcp" | "6" => Protocol::Tcp,
                "udp" | "17" => Protocol::Udp,
                "-1" | "all" => Protocol::All,
                _ => Protocol::Other,
            };
            let from = as_i64(p.get("fromPort"));
            let to = as_i64(p.get("toPort"));
            let ports = match (protocol, from, to) {
                (Protocol::All, _, _) => ALL_PORTS,
                (_, Some(f), Some(t)) if f >= 0 && t >= f => (f, t),
                (_, Some(f), None) if f >= 0 => (f, f),
                _ => ALL_PORTS,
            };
            let open_v4 = array(p.get("ipv4Ranges"))
                .iter()
                .chain(array(p.get("ipRanges")))
                .any(|r| cidr_is(r, "cidrIp", "0.0.0.0/0"));
            let open_v6 = array(p.get("ipv6Ranges"))
                .iter()
                .any(|r| cidr_is(r, "cidrIpv6", "::/0"));
            Permission {
                protocol,
                protocol_name: raw,
                ports,
                open_v4,
                open_v6,
            }
        })
        .collect()
}

fn inbound(ci: &ConfigurationItem) -> Vec<Permission> {
    permissions(&configuration(ci), "ipPermissions")
}

fn incoming_ssh_disabled(
    _p: &Parameters,
    ci: &ConfigurationItem,
    _l: &dyn ResourceLookup,
) -> Verdict {
    if let Some(v) = out_of_scope(ci, &[SECURITY_GROUP]) {
        return v;
    }
    match inbound(ci)
        .iter()
        .find(|p| p.world_open() && p.tcp_like() && p.overlaps((22, 22)))
    {
        Some(p) => non_compliant(format!(
            "The security group allows SSH (port 22) from anywhere: {}.",
            p.describe()
        )),
        None => Verdict::compliant(),
    }
}

/// `blockedPort1..5` (defaults 20, 21, 3389, 3306, 4333) and the `blockedPorts` CSV.
fn blocked_ports(p: &Parameters) -> Vec<(i64, i64)> {
    let mut ports: Vec<(i64, i64)> = (1..=5)
        .filter_map(|i| param_i64(p, &format!("blockedPort{i}")))
        .map(|n| (n, n))
        .collect();
    ports.extend(param_port_ranges(p, "blockedPorts"));
    ports
}

fn restricted_incoming_traffic(
    p: &Parameters,
    ci: &ConfigurationItem,
    _l: &dyn ResourceLookup,
) -> Verdict {
    if let Some(v) = out_of_scope(ci, &[SECURITY_GROUP]) {
        return v;
    }
    let blocked = blocked_ports(p);
    for perm in inbound(ci)
        .iter()
        .filter(|p| p.world_open() && p.tcp_like())
    {
        if let Some(&(a, b)) = blocked.iter().find(|r| perm.overlaps(**r)) {
            let port = a.max(perm.ports.0).min(b);
            return non_compliant(format!(
                "Blocked TCP port {port} is open to the world: {}.",
                perm.describe()
            ));
        }
    }
    Verdict::compliant()
}

/// The first port of `range` that no range in `allowed` covers.
fn first_unauthorized(range: (i64, i64), allowed: &[(i64, i64)]) -> Option<i64> {
    let mut cur = range.0;
    while cur <= range.1 {
        match allowed
            .iter()
            .filter(|(a, b)| *a <= cur && cur <= *b)
            .map(|(_, b)| *b)
            .max()
        {
            Some(end) => cur = end + 1,
            None => return Some(cur),
        }
    }
    None
}

fn open_only_to_authorized_ports(
    p: &Parameters,
    ci: &ConfigurationItem,
    _l: &dyn ResourceLookup,
) -> Verdict {
    if let Some(v) = out_of_scope(ci, &[SECURITY_GROUP]) {
        return v;
    }
    let open: Vec<Permission> = inbound(ci).into_iter().filter(|p| p.world_open()).collect();
    if open.is_empty() {
        return not_applicable("No inbound rule is open to 0.0.0.0/0 or ::/0.");
    }
    let tcp = param_port_ranges(p, "authorizedTcpPorts");
    let udp = param_port_ranges(p, "authorizedUdpPorts");
    for perm in &open {
        let (allowed, name) = match perm.protocol {
            Protocol::All => {
                return non_compliant(format!("The security group allows {}.", perm.describe()))
            }
            Protocol::Tcp => (&tcp, "authorizedTcpPorts"),
            Protocol::Udp => (&udp, "authorizedUdpPorts"),
            Protocol::Other => continue,
        };
        if let Some(port) = first_unauthorized(perm.ports, allowed) {
            return non_compliant(format!(
                "{} is open to the world on port {port}, which is not in {name}.",
                perm.protocol_name.to_ascii_uppercase()
            ));
        }
    }
    Verdict::compliant()
}

fn default_security_group_closed(
    _p: &Parameters,
    ci: &ConfigurationItem,
    _l: &dyn ResourceLookup,
) -> Verdict {
    if let Some(v) = out_of_scope(ci, &[SECURITY_GROUP]) {
        return v;
    }
    let conf = configuration(ci);
    if as_str(conf.get("groupName")) != Some("default") {
        return not_applicable("The security group is not a VPC's default security group.");
    }
    let inbound = array(conf.get("ipPermissions")).len();
    let outbound = array(conf.get("ipPermissionsEgress")).len();
    if inbound + outbound > 0 {
        non_compliant(format!(
            "The default security group has {inbound} inbound and {outbound} outbound rules; it should have none."
        ))
    } else {
        Verdict::compliant()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::super::test_support::*;
    use super::first_unauthorized;

    fn perm(protocol: &str, from: Option<i64>, to: Option<i64>, v4: &[&str], v6: &[&str]) -> Value {
        let mut p = json!({"ipProtocol": protocol,
            "ipRanges": v4, "ipv4Ranges": v4.iter().map(|c| json!({"cidrIp": c})).collect::<Vec<_>>(),
            "ipv6Ranges": v6.iter().map(|c| json!({"cidrIpv6": c})).collect::<Vec<_>>(),
            "prefixListIds": [], "userIdGroupPairs": []});
        if let Some(f) = from {
            p["fromPort"] = json!(f);
        }
        if let Some(t) = to {
            p["toPort"] = json!(t);
        }
        p
    }

    fn world(protocol: &str, from: i64, to: i64) -> Value {
        perm(protocol, Some(from), Some(to), &["0.0.0.0/0"], &[])
    }

    /// A security group in the spec §6.3 shape (API form: configuration as a JSON string).
    fn sg(
        name: &str,
        inbound: Vec<Value>,
        outbound: Vec<Value>,
    ) -> crate::domain::ConfigurationItem {
        ci(json!({
            "resourceType": "AWS::EC2::SecurityGroup", "resourceId": "sg-0123456789abcdef0", "resourceName": name,
            "arn": "arn:aws:ec2:us-east-1:111122223333:security-group/sg-0123456789abcdef0",
            "availabilityZone": "Not Applicable",
            "configuration": json!({"ownerId": "111122223333", "groupName": name, "groupId": "sg-0123456789abcdef0",
                "description": name, "vpcId": "vpc-0a1b2c3d", "tags": [],
                "ipPermissions": inbound, "ipPermissionsEgress": outbound}).to_string(),
            "supplementaryConfiguration": {},
            "relationships": [{"resourceType": "AWS::EC2::VPC", "resourceId": "vpc-0a1b2c3d", "relationshipName": "Is contained in Vpc"}]
        }))
    }

    fn egress() -> Vec<Value> {
        vec![perm("-1", None, None, &["0.0.0.0/0"], &[])]
    }

    #[test]
    fn ssh() {
        let r = "INCOMING_SSH_DISABLED";
        // The spec's example group: tcp 22 from 0.0.0.0/0.
        let v = run(
            r,
            json!({}),
            &sg("web", vec![world("tcp", 22, 22)], egress()),
            &[],
        );
        assert_verdict(&v, "NON_COMPLIANT");
        assert!(v.annotation.unwrap().contains("22"));
        assert_verdict(
            &run(
                r,
                json!({}),
                &sg("web", vec![world("tcp", 0, 1024)], egress()),
                &[],
            ),
            "NON_COMPLIANT",
        );
        assert_verdict(
            &run(
                r,
                json!({}),
                &sg(
                    "web",
                    vec![perm("-1", None, None, &["0.0.0.0/0"], &[])],
                    egress(),
                ),
                &[],
            ),
            "NON_COMPLIANT",
        );
        assert_verdict(
            &run(
                r,
                json!({}),
                &sg(
                    "web",
                    vec![perm("tcp", Some(22), Some(22), &[], &["::/0"])],
                    egress(),
                ),
                &[],
            ),
            "NON_COMPLIANT",
        );
        // Restricted source, other ports, or UDP: compliant.
        assert_verdict(
            &run(
                r,
                json!({}),
                &sg(
                    "web",
                    vec![perm("tcp", Some(22), Some(22), &["10.0.0.0/8"], &[])],
                    egress(),
                ),
                &[],
            ),
            "COMPLIANT",
        );
        assert_verdict(
            &run(
                r,
                json!({}),
                &sg("web", vec![world("tcp", 443, 443)], egress()),
                &[],
            ),
            "COMPLIANT",
        );
        assert_verdict(
            &run(
                r,
                json!({}),
                &sg("web", vec![world("udp", 22, 22)], egress()),
                &[],
            ),
            "COMPLIANT",
        );
        assert_verdict(
            &run(r, json!({}), &sg("web", vec![], egress()), &[]),
            "COMPLIANT",
        );
        // Legacy flat ipRanges only.
        let legacy =
            json!({"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "ipRanges": ["0.0.0.0/0"]});
        assert_verdict(
            &run(r, json!({}), &sg("web", vec![legacy], vec![]), &[]),
            "NON_COMPLIANT",
        );
    }

    #[test]
    fn restricted_common_ports_with_defaults_and_csv() {
        let r = "RESTRICTED_INCOMING_TRAFFIC";
        for port in [20, 21, 3389, 3306, 4333] {
            let v = run(
                r,
                json!({}),
                &sg("db", vec![world("tcp", port, port)], egress()),
                &[],
            );
            assert_verdict(&v, "NON_COMPLIANT");
            assert!(v.annotation.unwrap().contains(&port.to_string()));
        }
        assert_verdict(
            &run(
                r,
                json!({}),
                &sg("db", vec![world("tcp", 3000, 3400)], egress()),
                &[],
            ),
            "NON_COMPLIANT",
        );
        assert_verdict(
            &run(
                r,
                json!({}),
                &sg("db", vec![world("tcp", 443, 443)], egress()),
                &[],
            ),
            "COMPLIANT",
        );
        assert_verdict(
            &run(
                r,
                json!({}),
                &sg("db", vec![world("udp", 3389, 3389)], egress()),
                &[],
            ),
            "COMPLIANT",
        );
        assert_verdict(
            &run(
                r,
                json!({}),
                &sg(
                    "db",
                    vec![perm("tcp", Some(3306), Some(3306), &["10.0.0.0/16"], &[])],
                    egress(),
                ),
                &[],
            ),
            "COMPLIANT",
        );
        // blockedPorts CSV adds ports (and ranges); given parameters override defaults.
        let web = sg("web", vec![world("tcp", 8080, 8080)], egress());
        assert_verdict(&run(r, json!({}), &web, &[]), "COMPLIANT");
        assert_verdict(
            &run(r, json!({"blockedPorts": "20,21, 8080"}), &web, &[]),
            "NON_COMPLIANT",
        );
        assert_verdict(
            &run(r, json!({"blockedPorts": "8000-8100"}), &web, &[]),
            "NON_COMPLIANT",
        );
        assert_verdict(
            &run(r, json!({"blockedPort1": 8080}), &web, &[]),
            "NON_COMPLIANT",
        );
        let rdp = sg("web", vec![world("tcp", 3389, 3389)], egress());
        assert_verdict(
            &run(r, json!({"blockedPort3": "22"}), &rdp, &[]),
            "COMPLIANT",
        );
    }

    #[test]
    fn authorized_ports() {
        let r = "VPC_SG_OPEN_ONLY_TO_AUTHORIZED_PORTS";
        // No world-open rule: not applicable.
        let private = sg(
            "app",
            vec![perm("tcp", Some(22), Some(22), &["10.0.0.0/8"], &[])],
            egress(),
        );
        assert_verdict(
            &run(r, json!({"authorizedTcpPorts": "443"}), &private, &[]),
            "NOT_APPLICABLE",
        );
        let https = sg("app", vec![world("tcp", 443, 443)], egress());
        assert_verdict(
            &run(r, json!({"authorizedTcpPorts": "443"}), &https, &[]),
            "COMPLIANT",
        );
        assert_verdict(
            &run(r, json!({"authorizedTcpPorts": "80"}), &https, &[]),
            "NON_COMPLIANT",
        );
        assert_verdict(&run(r, json!({}), &https, &[]), "NON_COMPLIANT");
        // Ranges: the open range must lie within the union of authorized ranges.
        let range = sg("app", vec![world("tcp", 1024, 2048)], egress());
        assert_verdict(
            &run(
                r,
                json!({"authorizedTcpPorts": "443,1024-2048"}),
                &range,
                &[],
            ),
            "COMPLIANT",
        );
        assert_verdict(
            &run(
                r,
                json!({"authorizedTcpPorts": "1024-1500,1501-2048"}),
                &range,
                &[],
            ),
            "COMPLIANT",
        );
        let v = run(r, json!({"authorizedTcpPorts": "1024-2000"}), &range, &[]);
        assert_verdict(&v, "NON_COMPLIANT");
        assert!(v.annotation.unwrap().contains("2001"));
        // UDP has its own list; IPv6 counts as world-open; all-traffic is never authorized.
        let dns = sg(
            "app",
            vec![perm("udp", Some(53), Some(53), &[], &["::/0"])],
            egress(),
        );
        assert_verdict(
            &run(r, json!({"authorizedTcpPorts": "53"}), &dns, &[]),
            "NON_COMPLIANT",
        );
        assert_verdict(
            &run(r, json!({"authorizedUdpPorts": "53"}), &dns, &[]),
            "COMPLIANT",
        );
        let all = sg(
            "app",
            vec![perm("-1", None, None, &["0.0.0.0/0"], &[])],
            egress(),
        );
        assert_verdict(
            &run(r, json!({"authorizedTcpPorts": "0-65535"}), &all, &[]),
            "NON_COMPLIANT",
        );
        // ICMP open to the world has no ports to judge.
        let icmp = sg(
            "app",
            vec![perm("icmp", Some(-1), Some(-1), &["0.0.0.0/0"], &[])],
            egress(),
        );
        assert_verdict(&run(r, json!({}), &icmp, &[]), "COMPLIANT");
    }

    #[test]
    fn default_group_closed() {
        let r = "VPC_DEFAULT_SECURITY_GROUP_CLOSED";
        assert_verdict(
            &run(
                r,
                json!({}),
                &sg("web", vec![world("tcp", 22, 22)], egress()),
                &[],
            ),
            "NOT_APPLICABLE",
        );
        assert_verdict(
            &run(r, json!({}), &sg("default", vec![], egress()), &[]),
            "NON_COMPLIANT",
        );
        let self_ref =
            json!({"ipProtocol": "-1", "userIdGroupPairs": [{"groupId": "sg-0123456789abcdef0"}]});
        assert_verdict(
            &run(r, json!({}), &sg("default", vec![self_ref], vec![]), &[]),
            "NON_COMPLIANT",
        );
        assert_verdict(
            &run(r, json!({}), &sg("default", vec![], vec![]), &[]),
            "COMPLIANT",
        );
    }

    #[test]
    fn coverage_walk() {
        assert_eq!(first_unauthorized((10, 20), &[(10, 15), (16, 20)]), None);
        assert_eq!(
            first_unauthorized((10, 20), &[(10, 15), (17, 20)]),
            Some(16)
        );
        assert_eq!(first_unauthorized((10, 20), &[]), Some(10));
        assert_eq!(first_unauthorized((0, 65535), &[(0, 65535)]), None);
    }
}
