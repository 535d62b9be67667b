//! The published meter suite on a local 3-master Redis Cluster (`redis-server
//! --cluster-enabled yes` on three ports, `redis-cli --cluster create`, all on 127.0.0.1,
//! stopped when the test ends), through a `redis+cluster://` URL. Skipped, with a note,
//! when `redis-server` or `redis-cli` is not on the PATH.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr
)]

mod common;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use keygate_core::MemoryMeter;
use keygate_core::testing::meter as suite;
use keygate_redis::{RedisConfig, RedisConnection, RedisMeter};

/// Three `redis-server` processes in cluster mode, killed on drop.
struct LocalCluster {
    nodes: Vec<Child>,
    ports: Vec<u16>,
    _dir: tempfile::TempDir,
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            let _ = node.kill();
            let _ = node.wait();
        }
    }
}

/// A port free now whose cluster-bus port (+10000) is free too.
fn free_port() -> u16 {
    loop {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        if port < 55_000 && TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
            return port;
        }
    }
}

fn cli(port: u16, args: &[&str]) -> Option<String> {
    let output = Command::new("redis-cli")
        .arg("-p")
        .arg(port.to_string())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

impl LocalCluster {
    fn start() -> Option<Self> {
        let found = Command::new("redis-server")
            .arg("--version")
            .output()
            .is_ok_and(|out| out.status.success());
        if !found || cli(1, &["--version"]).is_none() {
            eprintln!("skipping the Cluster test: redis-server and redis-cli are not on the PATH");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let mut ports = Vec::new();
        let mut nodes = Vec::new();
        for _ in 0..3 {
            let port = free_port();
            let child = Command::new("redis-server")
                .current_dir(dir.path())
                .args(["--port", &port.to_string()])
                .args(["--bind", "127.0.0.1"])
                .args(["--cluster-enabled", "yes"])
                .args(["--cluster-config-file", &format!("nodes-{port}.conf")])
                .args(["--save", "", "--appendonly", "no"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            ports.push(port);
            nodes.push(child);
        }
        let cluster = Self {
            nodes,
            ports,
            _dir: dir,
        };
        let started = Instant::now();
        for port in &cluster.ports {
            while cli(*port, &["PING"]).is_none_or(|pong| !pong.contains("PONG")) {
                assert!(
                    started.elapsed() < Duration::from_secs(10),
                    "node {port} did not start"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let addresses: Vec<String> = cluster
            .ports
            .iter()
            .map(|port| format!("127.0.0.1:{port}"))
            .collect();
        let mut create = vec!["--cluster", "create"];
        create.extend(addresses.iter().map(String::as_str));
        create.extend(["--cluster-replicas", "0", "--cluster-yes"]);
        cli(cluster.ports[0], &create).expect("redis-cli --cluster create");
        for port in &cluster.ports {
            while cli(*port, &["CLUSTER", "INFO"])
                .is_none_or(|info| !info.contains("cluster_state:ok"))
            {
                assert!(
                    started.elapsed() < Duration::from_secs(30),
                    "the cluster is not ok"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Some(cluster)
    }

    fn url(&self) -> String {
        let hosts: Vec<String> = self
            .ports
            .iter()
            .map(|port| format!("127.0.0.1:{port}"))
            .collect();
        format!("redis+cluster://{}", hosts.join(","))
    }
}

async fn meter(url: &str) -> RedisMeter<MemoryMeter> {
    let connection = RedisConnection::connect(
        RedisConfig::new(url)
            .prefix(common::unique_prefix("cluster"))
            .unwrap()
            .timeout(Duration::from_secs(5)),
    )
    .await
    .unwrap();
    let meter = connection.meter(MemoryMeter::new());
    meter
        .declare_ledger_complete_since(time::OffsetDateTime::UNIX_EPOCH)
        .await
        .unwrap();
    meter
}

/// Every scenario of the published suite, each on a fresh prefix (the cluster is thrown
/// away with its keys).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_meter_suite_passes_on_a_3_master_cluster() {
    let Some(cluster) = LocalCluster::start() else {
        return;
    };
    let url = cluster.url();
    suite::a_refused_request_commits_nothing(meter(&url).await).await;
    suite::a_replayed_one_time_token_costs_no_credits(meter(&url).await).await;
    suite::a_settled_one_time_token_can_be_used_again(meter(&url).await).await;
    suite::rate_limits_burst_then_refuse_with_retry_after(meter(&url).await).await;
    suite::two_rate_limits_refuse_on_the_tighter_and_name_it(meter(&url).await).await;
    suite::a_daily_window_refuses_the_extra_request_until_utc_midnight(meter(&url).await).await;
    suite::a_monthly_window_resets_on_the_first_of_the_month(meter(&url).await).await;
    suite::settle_gives_back_credits_and_the_token_in_one_call(meter(&url).await).await;
    suite::credits_seed_from_the_allowance_and_saturate(meter(&url).await).await;
    suite::owner_and_lineage_balances_are_apart(meter(&url).await).await;
    suite::a_free_request_reads_the_balance_and_takes_nothing(meter(&url).await).await;
    suite::concurrent_debits_never_oversell(meter(&url).await).await;
    // The keys of several prefixes spread over the masters: each prefix's in one slot.
    let mut slots = std::collections::BTreeSet::new();
    for port in &cluster.ports {
        let keys = cli(*port, &["--scan", "--pattern", "{kgtest-cluster*"]).unwrap();
        if !keys.trim().is_empty() {
            slots.insert(*port);
        }
    }
    eprintln!("masters holding meter keys: {}", slots.len());
    assert!(!slots.is_empty());
    drop(cluster);
}
