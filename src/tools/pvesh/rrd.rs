//! A guest's RRD history: `/nodes/{node}/{qemu|lxc}/{vmid}/rrddata --timeframe <tf>`, one row per
//! step with averaged usage and rates.

use super::{GuestKind, RrdPoint, owned, rrd_argv, run};
use crate::host::{Host, ToolError};

/// `/nodes/{node}/{qemu|lxc}/{vmid}/rrddata --timeframe <hour|day|week|month|year>`.
pub async fn guest_rrddata(
    host: &Host,
    node: &str,
    kind: GuestKind,
    vmid: u64,
    timeframe: &str,
) -> Result<Vec<RrdPoint>, ToolError> {
    let path = format!("/nodes/{node}/{}/{vmid}/rrddata", kind.as_str());
    parse_rrddata(&run(host, rrd_argv(&path, timeframe)).await?)
}

pub fn parse_rrddata(text: &str) -> Result<Vec<RrdPoint>, ToolError> {
    owned("pvesh get /nodes/{node}/{type}/{vmid}/rrddata", text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rrddata_rows_may_hold_only_time() {
        let text = r#"[{"time":1722500000},
            {"time":1722500060,"cpu":0.0213,"maxcpu":2,"mem":1288490188.5,"maxmem":2147483648,
             "netin":1523.4,"netout":"998.1","diskread":0,"diskwrite":40960,"disk":0,"maxdisk":17179869184}]"#;
        let r = parse_rrddata(text).unwrap();
        assert_eq!(
            r[0],
            RrdPoint {
                time: 1722500000,
                cpu: None,
                maxcpu: None,
                mem: None,
                maxmem: None,
                disk: None,
                maxdisk: None,
                netin: None,
                netout: None,
                diskread: None,
                diskwrite: None
            }
        );
        assert_eq!((r[1].cpu, r[1].netout, r[1].diskwrite), (Some(0.0213), Some(998.1), Some(40960.0)));
    }
}
