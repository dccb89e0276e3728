# Shared by scripts/install-mirror and scripts/release (sourced, not run).
# shellcheck shell=bash

# The crate version from Cargo.toml (the provider version in the mirror and the release).
crate_version() {
  local manifest="$1/Cargo.toml" version
  version="$(sed -n '/^\[package\]/,/^\[/{s/^version *= *"\([^"]*\)".*$/\1/p;}' "$manifest" | head -n 1)"
  if [ -z "$version" ]; then
    echo "cannot read the package version from $manifest" >&2
    return 1
  fi
  printf '%s\n' "$version"
}

# Terraform's OS_ARCH name for this machine (linux_amd64, linux_arm64, darwin_arm64, ...).
terraform_target() {
  local os arch
  os="$(uname -s | tr '[:upper:]' '[:lower:]')"
  case "$(uname -m)" in
    x86_64 | amd64) arch=amd64 ;;
    aarch64 | arm64) arch=arm64 ;;
    i386 | i686) arch=386 ;;
    armv7l | armv6l) arch=arm ;;
    *) echo "unsupported machine architecture: $(uname -m)" >&2; return 1 ;;
  esac
  printf '%s_%s\n' "$os" "$arch"
}
