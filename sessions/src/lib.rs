//! Sessions: the append-only JSONL event log every run writes, so work can be resumed across
//! days (DESIGN.md §2 step 4–5): the log itself ([`log`]), replaying it into a conversation and
//! pending approvals ([`replay`]), the listing index, lookup and fork ([`index`]), and the
//! markdown context bundle a team commits ([`bundle`]). The crate knows events only as JSON;
//! the runtime gives them their types.

pub mod bundle;
pub mod index;
pub mod log;
pub mod replay;

pub use index::{FindError, SessionSummary};
pub use log::{Header, LogError, SessionLog, SessionWriter, read};
pub use replay::{Replay, replay};
