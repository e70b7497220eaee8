//! Which IP addresses an outbound fetch may connect to.
//!
//! The server fetches URLs that strangers choose (a client id that is a URL, a client's
//! `jwks_uri`), so without a guard it would be a proxy into its own network: cloud metadata at
//! 169.254.169.254, admin interfaces on 10.x, services bound to loopback. Only globally routable
//! unicast addresses pass. Everything RFC 6890 and the IANA special-purpose registries set aside
//! is refused: loopback, private, shared (CGNAT), link-local, multicast, unspecified,
//! documentation, benchmarking, reserved, and IPv6 forms that embed such an IPv4 address.
//!
//! IPv6 is checked by allow-list (global unicast `2000::/3` minus its special blocks), so a range
//! assigned in the future for local use is refused until this code learns about it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What an address is, as far as fetching is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressClass {
    /// Globally routable unicast: may be fetched from.
    Public,
    /// The loopback interface: only with the development switch.
    Loopback,
    /// Any other special-use address: never.
    Special,
}

/// Classifies an address.
pub fn classify(ip: IpAddr) -> AddressClass {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

/// Whether a fetch may connect to `ip`. Loopback passes only with `allow_loopback`; private and
/// other special-use ranges never do.
pub fn is_allowed(ip: IpAddr, allow_loopback: bool) -> bool {
    match classify(ip) {
        AddressClass::Public => true,
        AddressClass::Loopback => allow_loopback,
        AddressClass::Special => false,
    }
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], prefix: u32) -> bool {
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix)
    };
    (u32::from(ip) & mask) == (u32::from(Ipv4Addr::from(net)) & mask)
}

/// IPv4 blocks that are not globally routable unicast (RFC 6890 and the IANA IPv4
/// special-purpose registry), other than loopback.
const SPECIAL_V4: [([u8; 4], u32); 16] = [
    ([0, 0, 0, 0], 8),       // "this network", includes 0.0.0.0 (RFC 791)
    ([10, 0, 0, 0], 8),      // private (RFC 1918)
    ([100, 64, 0, 0], 10),   // shared address space, carrier-grade NAT (RFC 6598)
    ([169, 254, 0, 0], 16),  // link-local, cloud metadata services (RFC 3927)
    ([172, 16, 0, 0], 12),   // private (RFC 1918)
    ([192, 0, 0, 0], 24),    // IETF protocol assignments (RFC 6890)
    ([192, 0, 2, 0], 24),    // documentation TEST-NET-1 (RFC 5737)
    ([192, 31, 196, 0], 24), // AS112-v4 (RFC 7535)
    ([192, 52, 193, 0], 24), // AMT (RFC 7450)
    ([192, 88, 99, 0], 24),  // 6to4 relay anycast, deprecated (RFC 7526)
    ([192, 168, 0, 0], 16),  // private (RFC 1918)
    ([192, 175, 48, 0], 24), // direct delegation AS112 (RFC 7534)
    ([198, 18, 0, 0], 15),   // benchmarking (RFC 2544)
    ([198, 51, 100, 0], 24), // documentation TEST-NET-2 (RFC 5737)
    ([203, 0, 113, 0], 24),  // documentation TEST-NET-3 (RFC 5737)
    ([224, 0, 0, 0], 3),     // multicast 224/4 and reserved 240/4, broadcast (RFC 1112, 6890)
];

fn classify_v4(ip: Ipv4Addr) -> AddressClass {
    if in_v4(ip, [127, 0, 0, 0], 8) {
        return AddressClass::Loopback;
    }
    if SPECIAL_V4
        .iter()
        .any(|(net, prefix)| in_v4(ip, *net, *prefix))
    {
        return AddressClass::Special;
    }
    AddressClass::Public
}

fn in_v6(ip: Ipv6Addr, net: Ipv6Addr, prefix: u32) -> bool {
    let mask = if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - prefix)
    };
    (u128::from(ip) & mask) == (u128::from(net) & mask)
}

const fn v6(segments: [u16; 8]) -> Ipv6Addr {
    Ipv6Addr::new(
        segments[0],
        segments[1],
        segments[2],
        segments[3],
        segments[4],
        segments[5],
        segments[6],
        segments[7],
    )
}

/// Blocks inside global unicast `2000::/3` that are not globally routable unicast.
const SPECIAL_GLOBAL_V6: [([u16; 8], u32); 5] = [
    ([0x2001, 0, 0, 0, 0, 0, 0, 0], 23), // IETF protocol assignments, incl. Teredo (RFC 2928)
    ([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32), // documentation (RFC 3849)
    ([0x2002, 0, 0, 0, 0, 0, 0, 0], 16), // 6to4, embeds an IPv4 address (RFC 3056)
    ([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20), // documentation (RFC 9637)
    ([0x5f00, 0, 0, 0, 0, 0, 0, 0], 16), // SRv6 SIDs (RFC 9602)
];

fn classify_v6(ip: Ipv6Addr) -> AddressClass {
    if ip == Ipv6Addr::LOCALHOST {
        return AddressClass::Loopback;
    }
    // IPv4-mapped (::ffff:a.b.c.d) and the NAT64 well-known prefix (64:ff9b::/96) reach the
    // embedded IPv4 address: judge that one.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    if in_v6(ip, v6([0x64, 0xff9b, 0, 0, 0, 0, 0, 0]), 96) {
        let o = ip.octets();
        return classify_v4(Ipv4Addr::new(o[12], o[13], o[14], o[15]));
    }
    if !in_v6(ip, v6([0x2000, 0, 0, 0, 0, 0, 0, 0]), 3) {
        // Unspecified, IPv4-compatible, discard-only, local-use NAT64, unique local,
        // link-local, site-local, multicast and everything unassigned.
        return AddressClass::Special;
    }
    if SPECIAL_GLOBAL_V6
        .iter()
        .any(|(net, prefix)| in_v6(ip, v6(*net), *prefix))
    {
        return AddressClass::Special;
    }
    AddressClass::Public
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> AddressClass {
        classify(s.parse().unwrap())
    }

    #[test]
    fn public_addresses_pass() {
        for a in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.216.34",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.169.0.1",
            "223.255.255.255",
            "2606:4700:4700::1111",
            "2a00:1450:4001:81b::200e",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
        ] {
            assert_eq!(c(a), AddressClass::Public, "{a}");
        }
    }

    #[test]
    fn loopback_is_its_own_class() {
        for a in ["127.0.0.1", "127.255.0.9", "::1", "::ffff:127.0.0.1"] {
            assert_eq!(c(a), AddressClass::Loopback, "{a}");
            assert!(is_allowed(a.parse().unwrap(), true), "{a}");
            assert!(!is_allowed(a.parse().unwrap(), false), "{a}");
        }
    }

    #[test]
    fn special_use_ipv4_is_refused_even_with_loopback_allowed() {
        for a in [
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.1",
            "10.255.255.255",
            "100.64.0.1",
            "100.127.255.254",
            "169.254.169.254",
            "169.254.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.10",
            "192.88.99.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
        ] {
            assert_eq!(c(a), AddressClass::Special, "{a}");
            assert!(!is_allowed(a.parse().unwrap(), true), "{a}");
        }
    }

    #[test]
    fn special_use_ipv6_is_refused_even_with_loopback_allowed() {
        for a in [
            "::",
            "::a00:1",         // IPv4-compatible 10.0.0.1
            "::ffff:10.0.0.1", // IPv4-mapped private
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1", // NAT64 of 10.0.0.1
            "64:ff9b:1::1",   // local-use NAT64
            "100::1",         // discard-only
            "2001::1",        // Teredo
            "2001:2::1",      // benchmarking
            "2001:db8::1",    // documentation
            "2002:a00:1::1",  // 6to4
            "3fff::1",        // documentation
            "5f00::1",        // SRv6
            "fc00::1",
            "fd12:3456::1",  // unique local
            "fe80::1",       // link-local
            "fec0::1",       // site-local
            "ff02::1",       // multicast
            "fd00:ec2::254", // AWS IMDS over IPv6
        ] {
            assert_eq!(c(a), AddressClass::Special, "{a}");
            assert!(!is_allowed(a.parse().unwrap(), true), "{a}");
        }
    }
}
