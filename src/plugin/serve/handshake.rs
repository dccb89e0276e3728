//! The textual side of go-plugin's handshake: the magic cookie, protocol version negotiation,
//! the stdout handshake line and the debug-mode reattach instructions. Pure functions, so the
//! exact bytes Terraform parses are unit tested here.

use base64::Engine as _;

/// Environment variable through which Terraform (and OpenTofu) proves it launched us.
pub const MAGIC_COOKIE_KEY: &str = "TF_PLUGIN_MAGIC_COOKIE";
/// The value Terraform puts in [`MAGIC_COOKIE_KEY`]; fixed across all Terraform versions.
pub const MAGIC_COOKIE_VALUE: &str =
    "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";

/// go-plugin's explanation for a human who runs the binary by hand (written to stderr).
pub const NOT_A_PROGRAM: &str =
    "This binary is a plugin. These are not meant to be executed directly.
Please execute the program that consumes these plugins, which will
load any plugins automatically
";

/// The only application protocol this provider speaks.
pub const PROTOCOL_VERSION: u32 = 5;

/// Why the protocol negotiation failed; shown on stderr before exiting.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NegotiationError {
    /// Terraform offered versions, none of them 5.
    #[error(
        "this provider speaks Terraform plugin protocol 5 only, but the client offered \
         PLUGIN_PROTOCOL_VERSIONS={offered:?}"
    )]
    NotOffered {
        /// The raw variable value.
        offered: String,
    },
}

/// Picks the protocol version from `PLUGIN_PROTOCOL_VERSIONS` (a comma list in random order).
/// Absent or empty means an old client that predates negotiation: go-plugin then uses the
/// server's lowest version, which for us is 5. Entries that are not numbers are skipped, as
/// go-plugin does.
pub fn negotiate(offered: Option<&str>) -> Result<u32, NegotiationError> {
    let Some(raw) = offered.filter(|s| !s.trim().is_empty()) else {
        return Ok(PROTOCOL_VERSION);
    };
    let found = raw
        .split(',')
        .filter_map(|v| v.trim().parse::<u32>().ok())
        .any(|v| v == PROTOCOL_VERSION);
    if found {
        Ok(PROTOCOL_VERSION)
    } else {
        Err(NegotiationError::NotOffered {
            offered: raw.to_owned(),
        })
    }
}

/// Why `PLUGIN_MIN_PORT`/`PLUGIN_MAX_PORT` cannot be honoured; shown on stderr before exiting.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PortRangeError {
    /// A bound is not a port number.
    #[error("{var}={value:?} is not a TCP port number (1 to 65535)")]
    NotAPort {
        /// The variable's name.
        var: &'static str,
        /// Its raw value.
        value: String,
    },
    /// The range is empty.
    #[error("PLUGIN_MIN_PORT={min} is above PLUGIN_MAX_PORT={max}: no port to listen on")]
    Inverted {
        /// The lower bound.
        min: u16,
        /// The upper bound.
        max: u16,
    },
}

/// The ports the provider may listen on, from go-plugin's `PLUGIN_MIN_PORT` and
/// `PLUGIN_MAX_PORT` (for hosts whose firewall allows only a range on loopback). As in
/// go-plugin, the range applies only when both are set and non-empty; `None` means any port the
/// OS picks. Unlike go-plugin, which fails later with "Couldn't bind plugin TCP listener", a
/// malformed or inverted range is refused here with the variable named.
pub fn port_range(
    min: Option<&str>,
    max: Option<&str>,
) -> Result<Option<std::ops::RangeInclusive<u16>>, PortRangeError> {
    let (Some(min), Some(max)) = (min.filter(|s| !s.is_empty()), max.filter(|s| !s.is_empty()))
    else {
        return Ok(None);
    };
    let port = |var: &'static str, value: &str| {
        value
            .trim()
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| PortRangeError::NotAPort {
                var,
                value: value.to_owned(),
            })
    };
    let (lo, hi) = (port("PLUGIN_MIN_PORT", min)?, port("PLUGIN_MAX_PORT", max)?);
    if lo > hi {
        return Err(PortRangeError::Inverted { min: lo, max: hi });
    }
    Ok(Some(lo..=hi))
}

/// The handshake line go-plugin's client parses (without the trailing newline):
/// `1|5|tcp|127.0.0.1:PORT|grpc|<server cert>`, the cert as standard base64 of its DER without
/// padding (go-plugin uses `RawStdEncoding`), or empty for plaintext.
pub fn line(addr: std::net::SocketAddr, server_cert_der: Option<&[u8]>) -> String {
    let cert = server_cert_der
        .map(|der| base64::engine::general_purpose::STANDARD_NO_PAD.encode(der))
        .unwrap_or_default();
    format!("1|{PROTOCOL_VERSION}|tcp|{addr}|grpc|{cert}")
}

/// The text terraform-plugin-go prints in managed debug mode, so developers can paste the
/// `TF_REATTACH_PROVIDERS` line exactly as they would for a Go provider.
pub fn reattach_instructions(
    provider_address: &str,
    pid: u32,
    addr: std::net::SocketAddr,
) -> String {
    let mut providers = serde_json::Map::new();
    providers.insert(
        provider_address.to_owned(),
        serde_json::json!({
            "Protocol": "grpc",
            "ProtocolVersion": PROTOCOL_VERSION,
            "Pid": pid,
            "Test": true,
            "Addr": { "Network": "tcp", "String": addr.to_string() },
        }),
    );
    let json = serde_json::Value::Object(providers).to_string();
    format!(
        "Provider started. To attach Terraform CLI, set the TF_REATTACH_PROVIDERS environment \
         variable with the following:\n\n\tTF_REATTACH_PROVIDERS='{json}'\n\n"
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn port_range_follows_go_plugin() {
        assert_eq!(port_range(None, None), Ok(None));
        assert_eq!(port_range(Some("10000"), None), Ok(None), "both or nothing");
        assert_eq!(port_range(Some(""), Some("10010")), Ok(None));
        assert_eq!(
            port_range(Some("10000"), Some(" 10010 ")),
            Ok(Some(10000..=10010))
        );
        assert_eq!(port_range(Some("7"), Some("7")), Ok(Some(7..=7)));
        for (min, max, var) in [
            ("x", "10", "PLUGIN_MIN_PORT"),
            ("0", "10", "PLUGIN_MIN_PORT"),
            ("1", "65536", "PLUGIN_MAX_PORT"),
            ("1", "-2", "PLUGIN_MAX_PORT"),
        ] {
            let e = port_range(Some(min), Some(max)).unwrap_err();
            assert!(e.to_string().starts_with(var), "{e}");
        }
        assert_eq!(
            port_range(Some("20"), Some("10")),
            Err(PortRangeError::Inverted { min: 20, max: 10 })
        );
    }

    use super::*;

    #[test]
    fn negotiation_accepts_5_in_any_order_and_rejects_6_only() {
        assert_eq!(negotiate(Some("6,5")), Ok(5));
        assert_eq!(negotiate(Some("5,6")), Ok(5));
        assert_eq!(negotiate(Some(" 6 , 5 ")), Ok(5));
        assert_eq!(negotiate(Some("x,5")), Ok(5));
        assert_eq!(negotiate(None), Ok(5));
        assert_eq!(negotiate(Some("")), Ok(5));
        assert!(matches!(
            negotiate(Some("6")),
            Err(NegotiationError::NotOffered { .. })
        ));
        assert!(matches!(
            negotiate(Some("4,55")),
            Err(NegotiationError::NotOffered { .. })
        ));
    }

    #[test]
    fn line_uses_unpadded_standard_base64() {
        let addr: std::net::SocketAddr =
            "127.0.0.1:4321".parse().unwrap_or_else(|_| unreachable!());
        // 4 bytes encode to 6 characters plus "==" with padding; '+' and '/' prove the alphabet.
        assert_eq!(
            line(addr, Some(&[0xfb, 0xff, 0xbf, 0x00])),
            "1|5|tcp|127.0.0.1:4321|grpc|+/+/AA"
        );
        assert_eq!(line(addr, None), "1|5|tcp|127.0.0.1:4321|grpc|");
    }

    #[test]
    fn reattach_line_is_valid_json_with_pid() {
        let addr: std::net::SocketAddr = "127.0.0.1:7".parse().unwrap_or_else(|_| unreachable!());
        let text = reattach_instructions("registry.terraform.io/hostup/hostup", 42, addr);
        let json_line = text
            .lines()
            .find_map(|l| l.strip_prefix("\tTF_REATTACH_PROVIDERS='"))
            .and_then(|l| l.strip_suffix('\''))
            .unwrap_or_default();
        let v: serde_json::Value = serde_json::from_str(json_line).unwrap_or_default();
        let p = &v["registry.terraform.io/hostup/hostup"];
        assert_eq!(p["Pid"], 42);
        assert_eq!(p["ProtocolVersion"], 5);
        assert_eq!(p["Addr"]["String"], "127.0.0.1:7");
        assert_eq!(p["Addr"]["Network"], "tcp");
    }
}
