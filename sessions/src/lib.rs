//! Sessions: the append-only JSONL event log every run writes, so work can be resumed across
//! days (DESIGN.md §2 step 4–5). Resume, fork, the index and compaction build on [`log`].

pub mod log;

pub use log::{Header, LogError, SessionLog, SessionWriter, read};
