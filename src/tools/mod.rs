//! Pure parsers of host tool output and kernel files, one file per source (DESIGN.md §3.2): each takes
//! the text and returns a typed value or a [`crate::host::ToolError::Parse`] naming the line. The
//! functions that *read* (through [`crate::host::Host`]) sit next to their parsers and are thin.

pub mod apt;
pub mod cert;
pub mod dmi;
pub mod docker;
pub mod gpu;
pub mod hwmon;
pub mod ipmi;
pub mod journal;
pub mod mounts;
pub mod net;
pub mod nut;
pub mod pmxcfs;
pub mod procfs;
pub mod pve;
pub mod pveapi;
pub mod pveconf;
pub mod pvenode;
pub mod pvesh;
pub mod pvetasks;
pub mod services;
pub mod smartctl;
pub mod storage;
pub mod timesync;
pub mod zpool;
