//! Request counters and a latency histogram in Prometheus' text exposition format.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

/// Upper bounds (seconds) of the latency histogram's buckets.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

/// Server metrics.
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
}

impl Metrics {
    /// Record one request.
    pub fn observe(&self, route: &str, status: u16, seconds: f64) {
        *self
            .requests
            .lock()
            .expect("metrics lock")
            .entry((route.to_string(), status))
            .or_default() += 1;
        let mut lat = self.latency.lock().expect("metrics lock");
        let h = lat.entry(route.to_string()).or_default();
        for (i, le) in BUCKETS.iter().enumerate() {
            if seconds <= *le {
                h.counts[i] += 1;
            }
        }
        h.sum += seconds;
        h.count += 1;
    }

    /// Prometheus text format.
    pub fn render(&self) -> String {
        let mut s = String::new();
        s.push_str("# HELP ragtune_http_requests_total HTTP requests by route and status code.\n");
        s.push_str("# TYPE ragtune_http_requests_total counter\n");
        for ((route, status), n) in self.requests.lock().expect("metrics lock").iter() {
            let _ = writeln!(
                s,
                "ragtune_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
        s.push_str("# HELP ragtune_http_request_duration_seconds Request latency by route.\n");
        s.push_str("# TYPE ragtune_http_request_duration_seconds histogram\n");
        for (route, h) in self.latency.lock().expect("metrics lock").iter() {
            for (i, le) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    s,
                    "ragtune_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{le}\"}} {}",
                    h.counts[i]
                );
            }
            let _ = writeln!(
                s,
                "ragtune_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                s,
                "ragtune_http_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                s,
                "ragtune_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                h.count
            );
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative() {
        let m = Metrics::default();
        m.observe("/search", 200, 0.003);
        m.observe("/search", 200, 0.2);
        m.observe("/search", 400, 20.0);
        let text = m.render();
        assert!(text.contains("ragtune_http_requests_total{route=\"/search\",status=\"200\"} 2"));
        assert!(text.contains("ragtune_http_requests_total{route=\"/search\",status=\"400\"} 1"));
        assert!(text.contains(
            "ragtune_http_request_duration_seconds_bucket{route=\"/search\",le=\"0.0025\"} 0"
        ));
        assert!(text.contains(
            "ragtune_http_request_duration_seconds_bucket{route=\"/search\",le=\"0.005\"} 1"
        ));
        assert!(text.contains(
            "ragtune_http_request_duration_seconds_bucket{route=\"/search\",le=\"0.25\"} 2"
        ));
        assert!(text.contains(
            "ragtune_http_request_duration_seconds_bucket{route=\"/search\",le=\"10\"} 2"
        ));
        assert!(text.contains(
            "ragtune_http_request_duration_seconds_bucket{route=\"/search\",le=\"+Inf\"} 3"
        ));
        assert!(text.contains("ragtune_http_request_duration_seconds_count{route=\"/search\"} 3"));
    }
}
