//! agentops' tools. This crate grows into the typed infrastructure tools behind gates
//! (DESIGN.md §3); it starts with the shell runner that command expansion and the `Bash` tool
//! share.

pub mod shell;
