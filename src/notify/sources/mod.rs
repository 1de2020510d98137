//! The event sources. To be built: tasks, journal, security, pve, system.
