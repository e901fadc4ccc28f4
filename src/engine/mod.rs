//! Reconcile-and-wait, one engine for every service: observe the current operation → wait for
//! a running one to end → start → identify the new operation → follow it until it is final or
//! the deadline. The loop ([`reconcile`]) is written once; what differs per service is a
//! [`backend::Backend`]. Names no service, no terminal and no Terraform: the services'
//! backends live in the services' own folders, one per service.
//!
//! - [`backend`]: the trait, and what the loop and a backend tell each other.
//! - [`reconcile`]: the loop (deadline, cancellation, lifecycle steps, outcome).

pub mod backend;
pub mod reconcile;
