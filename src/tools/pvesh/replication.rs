//! Storage replication: `/nodes/{node}/replication`, every replication job of this node's guests with
//! its state (PVE/API2/Replication.pm, state from PVE::ReplicationState).

use super::{ReplicationJob, get, owned};
use crate::host::{Host, ToolError};

/// `/nodes/{node}/replication`: every replication job of this node's guests with its state
/// (PVE/API2/Replication.pm, state from PVE::ReplicationState).
pub async fn replication(host: &Host, node: &str) -> Result<Vec<ReplicationJob>, ToolError> {
    parse_replication(&get(host, &format!("/nodes/{node}/replication")).await?)
}

pub fn parse_replication(text: &str) -> Result<Vec<ReplicationJob>, ToolError> {
    owned("pvesh get /nodes/{node}/replication", text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replication_status_with_numbers_as_strings_and_a_failing_job() {
        // Shape of PVE/API2/Replication.pm `status` (fields from PVE::ReplicationState).
        let text = r#"[{"comment":"nightly","guest":"100","id":"100-0","jobnum":0,"last_sync":1722470400,"last_try":1722499200,"next_sync":1722502800,"duration":"3.41","fail_count":3,"error":"command 'zfs snapshot' failed: got timeout","schedule":"*/15","source":"pve1","target":"pve2","type":"local","vmtype":"qemu"},{"guest":101,"id":"101-0","jobnum":0,"last_sync":"1722499500","next_sync":1722500400,"duration":1.2,"fail_count":0,"schedule":"*/15","target":"pve2","type":"local","disable":1}]"#;
        let jobs = parse_replication(text).unwrap();
        assert_eq!(jobs.len(), 2);
        assert_eq!(jobs[0].guest, 100);
        assert_eq!(jobs[0].duration, Some(3.41));
        assert!(jobs[0].failing());
        assert_eq!(jobs[1].last_sync, Some(1_722_499_500));
        assert!(!jobs[1].failing() && jobs[1].disable);
        assert!(parse_replication("[]").unwrap().is_empty());
    }
}
