//! Pure parsers of host tool output and kernel files, one file per source (DESIGN.md §3.2): each takes
//! the text and returns a typed value or a [`crate::host::ToolError::Parse`] naming the line. The
//! functions that *read* (through [`crate::host::Host`]) sit next to their parsers and are thin.

pub mod procfs;
pub mod pve;
pub mod pvesh;
pub mod smartctl;
pub mod storage;
pub mod zpool;
