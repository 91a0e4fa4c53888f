//! The red-team suite: a scripted **fake** model drives the real binary through attacks on
//! the gates, one module per class (DESIGN.md §3). Every test asserts that nothing outside the
//! gates changed on disk and that the run's outcome and exit code say what happened.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../common/mod.rs"]
mod common;

mod bounds;
mod control_files;
mod environments;
mod rules;
mod secrets;
mod sessions;
mod shell;
