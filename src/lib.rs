//! terraform-provider-hostup: a Terraform provider for HostUp VPS snapshots and backups, and
//! `hostup-sim`, a local HostUp API to plan and apply against offline.
//!
//! The crate keeps four walls (see docs/ARCHITECTURE.md, "Layers and walls"):
//! - [`plugin`]: Terraform plugin machinery (handshake, mTLS, gRPC, cty values, schemas,
//!   a small resource framework). Knows nothing of HostUp.
//! - [`hostup`]: the HostUp HTTP client (models, problems, retries, job waiting). Knows nothing
//!   of Terraform.
//! - [`provider`]: the HostUp provider, gluing the two: one file per data source or resource.
//! - [`sim`]: the local HostUp API, written from the API reference; shares no code with
//!   [`hostup`] so a wrong model cannot hide on both sides of a test.

#![warn(missing_docs)]

pub mod hostup;
pub mod plugin;
pub mod provider;
pub mod sim;
