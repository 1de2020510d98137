//! systemd units as `systemctl show` reports them (the parser is `tools::services`).

use serde::Serialize;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UnitState {
    pub id: String,
    /// `loaded`, `not-found`, `masked`, `error`.
    pub load: String,
    /// `active`, `inactive`, `failed`, `activating`, `deactivating`, `reloading`.
    pub active: String,
    /// `running`, `exited`, `dead`, `failed`, `auto-restart`, ...
    pub sub: String,
    /// `success`, `exit-code`, `signal`, `timeout`, ...
    pub result: String,
}

impl UnitState {
    pub fn installed(&self) -> bool {
        self.load != "not-found" && !self.load.is_empty()
    }
    pub fn is_active(&self) -> bool {
        self.active == "active" || self.active == "reloading"
    }
    pub fn is_failed(&self) -> bool {
        self.active == "failed" || self.sub == "failed"
    }
}
