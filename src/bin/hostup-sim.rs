//! `hostup-sim`: runs the local HostUp API (see docs/hostup-sim.md). Skeleton.

fn main() {}
