//! provider (being written).
