//! Load: `ragtune serve` at twice its measured capacity for 60 s, loopback only and with
//! bounded concurrency, answers no 5xx, drops no connection, and keeps its memory flat.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::serve::{Server, quickstart_questions, quickstart_run};

/// Concurrent clients while measuring capacity, and the most requests in flight under load.
const PROBE_CLIENTS: usize = 8;
const MAX_IN_FLIGHT: usize = 64;

fn agent() -> ureq::Agent {
    ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build(),
    )
}

/// Status code of one search, or 0 when the connection failed.
fn search(agent: &ureq::Agent, base: &str, body: &str) -> u16 {
    agent
        .post(format!("{base}/search"))
        .header("content-type", "application/json")
        .send(body)
        .map_or(0, |mut r| {
            let _ = r.body_mut().read_to_string();
            r.status().as_u16()
        })
}

/// Resident memory of `pid` in kB.
fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// How many searches ended with each status code (0: the connection failed).
type Statuses = std::collections::BTreeMap<u16, u64>;

/// `MAX_IN_FLIGHT` clients that each take the next request index from `rx`, send that
/// search, and count its status, until the queue closes.
fn spawn_clients(
    rx: mpsc::Receiver<usize>,
    statuses: &Arc<Mutex<Statuses>>,
    base: &str,
    bodies: &[String],
) -> Vec<std::thread::JoinHandle<()>> {
    let rx = Arc::new(Mutex::new(rx));
    (0..MAX_IN_FLIGHT)
        .map(|_| {
            let (rx, statuses) = (rx.clone(), statuses.clone());
            let (base, bodies) = (base.to_string(), bodies.to_vec());
            std::thread::spawn(move || {
                let agent = agent();
                loop {
                    // The queue's lock is released before the request is sent.
                    let next = rx.lock().unwrap().recv();
                    let Ok(i) = next else { break };
                    let code = search(&agent, &base, &bodies[i % bodies.len()]);
                    *statuses.lock().unwrap().entry(code).or_default() += 1;
                }
            })
        })
        .collect()
}

/// `pid`'s resident memory once a second until `stop`.
fn sample_rss(pid: u32, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<Vec<u64>> {
    std::thread::spawn(move || {
        let mut rss = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            rss.push(rss_kb(pid));
            std::thread::sleep(Duration::from_secs(1));
        }
        rss
    })
}

/// Put a request index on `tx` every 1/`rate` s for `length`, shedding those that find
/// the queue full; then close it. Returns (requests due, requests shed).
fn offer(tx: mpsc::SyncSender<usize>, rate: f64, length: Duration) -> (usize, u64) {
    let start = Instant::now();
    let (mut sent, mut shed) = (0usize, 0u64);
    while start.elapsed() < length {
        let due = Duration::from_secs_f64(sent as f64 / rate);
        if let Some(wait) = due.checked_sub(start.elapsed()) {
            std::thread::sleep(wait);
        }
        match tx.try_send(sent) {
            Ok(()) => {}
            Err(mpsc::TrySendError::Full(_)) => shed += 1,
            Err(e) => panic!("{e}"),
        }
        sent += 1;
    }
    (sent, shed)
}

/// Searches per second with `PROBE_CLIENTS` clients in a closed loop for `secs`.
fn capacity(base: &str, bodies: &[String], secs: u64) -> f64 {
    let done = AtomicU64::new(0);
    let until = Instant::now() + Duration::from_secs(secs);
    std::thread::scope(|s| {
        for c in 0..PROBE_CLIENTS {
            let done = &done;
            s.spawn(move || {
                let agent = agent();
                let mut i = c;
                while Instant::now() < until {
                    assert_eq!(search(&agent, base, &bodies[i % bodies.len()]), 200);
                    done.fetch_add(1, Ordering::Relaxed);
                    i += PROBE_CLIENTS;
                }
            });
        }
    });
    done.into_inner() as f64 / secs as f64
}

#[test]
#[ignore = "end-to-end: needs models/fetch.sh, the test venv and ../shared/datasets; run scripts/test.sh"]
fn twice_capacity_for_60_s_gives_no_5xx_and_flat_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let (run, cache) = quickstart_run(tmp.path());
    let server = Server::start(&run, &run.join("best.toml").display().to_string(), &cache);
    let base = server.base.clone();
    let bodies: Vec<String> = quickstart_questions()
        .iter()
        .map(|(_, q, _)| json!({"query": q, "k": 5}).to_string())
        .collect();
    let capacity = capacity(&base, &bodies, 5);
    let rate = 2.0 * capacity;
    // Open loop: a request is due every 1/rate s; a bounded queue feeds the clients, and a
    // request that finds it full is shed by the load generator, never queued without end.
    let (tx, rx) = mpsc::sync_channel::<usize>(MAX_IN_FLIGHT);
    let statuses = Arc::new(Mutex::new(Statuses::new()));
    let workers = spawn_clients(rx, &statuses, &base, &bodies);
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = sample_rss(server.child.id(), stop.clone());
    let (sent, shed) = offer(tx, rate, Duration::from_secs(60));
    for w in workers {
        w.join().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    let rss = sampler.join().unwrap();
    let statuses = statuses.lock().unwrap().clone();
    let answered: u64 = statuses.values().sum();
    let early = rss[5..15].iter().sum::<u64>() / 10;
    let late = rss[rss.len() - 10..].iter().sum::<u64>() / 10;
    println!(
        "load: capacity {capacity:.0} searches/s; offered {rate:.0}/s for 60 s: {sent} due, \
         {answered} answered ({statuses:?}; 0 = connection failed), {shed} shed by the \
         generator; server RSS {early} kB at 5-15 s, {late} kB at the end"
    );
    assert!(statuses.keys().all(|&c| c != 0 && c < 500), "{statuses:?}");
    assert!(statuses.get(&200).copied().unwrap_or(0) > 0, "{statuses:?}");
    assert!(
        late <= early + early / 4 + 16 * 1024,
        "memory grew: {early} kB → {late} kB"
    );
    server.stop();
}
