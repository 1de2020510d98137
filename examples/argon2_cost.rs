//! Measures what one password hash and one verification cost with proxwatch's argon2id parameters
//! (the issue asks for 50–150 ms on the project's machines). Run: `cargo run --release --example argon2_cost`.

use std::time::Instant;

use proxwatch::auth::password;

fn main() -> anyhow::Result<()> {
    let runs = 7;
    let mut hash_ms = Vec::new();
    let mut verify_ms = Vec::new();
    let mut phc = String::new();
    for _ in 0..runs {
        let t = Instant::now();
        phc = password::hash("correct horse battery staple")?;
        hash_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        let t = Instant::now();
        let ok = password::verify("correct horse battery staple", &phc);
        verify_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        anyhow::ensure!(ok, "verification failed");
    }
    hash_ms.sort_by(f64::total_cmp);
    verify_ms.sort_by(f64::total_cmp);
    println!(
        "argon2id m={} KiB t={} p={}: hash median {:.0} ms (min {:.0}, max {:.0}); verify median {:.0} ms over {runs} runs",
        password::MEMORY_KIB,
        password::PASSES,
        password::LANES,
        hash_ms[runs / 2],
        hash_ms[0],
        hash_ms[runs - 1],
        verify_ms[runs / 2]
    );
    let _ = phc;
    Ok(())
}
