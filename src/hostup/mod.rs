//! hostup (being written).
