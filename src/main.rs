//! terraform-provider-hostup: the binary Terraform launches. It only parses the `-debug` flag,
//! installs logging, and hands the provider to the go-plugin server.

#![warn(missing_docs)]

use std::io::Write as _;
use std::process::ExitCode;

use hostup_provider::plugin::rpc::ProviderService;
use hostup_provider::plugin::shown::ShownWarnings;
use hostup_provider::plugin::{log, serve};

/// Source address of this provider: the key of the debug-mode TF_REATTACH_PROVIDERS line.
const PROVIDER_ADDRESS: &str = "registry.terraform.io/hostup/hostup";

fn main() -> ExitCode {
    log::init("provider.terraform-provider-hostup");
    let mut config = serve::ServeConfig::new(PROVIDER_ADDRESS);
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            // Go's flag package accepts one or two dashes; terraform-plugin-go documents -debug.
            "-debug" | "--debug" | "-debug=true" | "--debug=true" => config.debug = true,
            "-debug=false" | "--debug=false" => config.debug = false,
            other => {
                // Like Go's flag package: usage on stderr, exit 2. A closed stderr is ignored.
                let _ = writeln!(
                    std::io::stderr(),
                    "flag provided but not defined: {other}\nUsage of terraform-provider-hostup:\n  -debug\n    \tstart provider in debug mode"
                );
                return ExitCode::from(2);
            }
        }
    }
    let mut service = ProviderService::new(hostup_provider::provider::new());
    if !config.debug {
        // One process per graph walk: a warning an earlier walk showed is not repeated.
        service = service.with_shown_warnings(ShownWarnings::of_this_terraform_run());
    }
    serve::serve(config, service)
}
