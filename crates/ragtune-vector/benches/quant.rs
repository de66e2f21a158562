//! Exact search over 50,000 vectors of 384 dimensions (all-MiniLM-L6's), one query at a
//! time on one thread: float32 (the baseline, measured in the same run), int8, and binary
//! (Hamming scan and top-(m·k) selection), with binary's float32 rescoring of its m·k
//! candidates timed apart. Prints milliseconds per query and each one's speed-up over
//! float32. `cargo bench -p ragtune-vector --bench quant [-- N DIM QUERIES]`.

use std::hint::black_box;
use std::time::Instant;

use ragtune_vector::testing::unit_vectors;
use ragtune_vector::{BinaryVectors, Int8Vectors, Vectors, exact_search_one, rescore};

/// Median milliseconds per query of `f` over `queries`, after one untimed pass.
fn per_query(queries: &Vectors, mut f: impl FnMut(&[f32])) -> f64 {
    (0..queries.len()).for_each(|i| f(queries.row(i)));
    let mut ms: Vec<f64> = (0..queries.len())
        .map(|i| {
            let t = Instant::now();
            f(queries.row(i));
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    ms[ms.len() / 2]
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let n = args.first().copied().unwrap_or(50_000);
    let dim = args.get(1).copied().unwrap_or(384);
    let nq = args.get(2).copied().unwrap_or(200);
    let (k, m) = (10, 4);
    let index = unit_vectors(n, dim, 7);
    let queries = unit_vectors(nq, dim, 11);
    let int8 = Int8Vectors::quantise(&index);
    let binary = BinaryVectors::quantise(&index);
    let f32_ms = per_query(&queries, |q| {
        black_box(exact_search_one(&index, q, k).expect("dims match"));
    });
    let int8_ms = per_query(&queries, |q| {
        black_box(int8.search(q, k).expect("dims match"));
    });
    let bin_ms = per_query(&queries, |q| {
        black_box(binary.search(q, m * k).expect("dims match"));
    });
    let pools: Vec<_> = (0..nq)
        .map(|i| binary.search(queries.row(i), m * k).expect("dims match"))
        .collect();
    let mut at = 0;
    let rescore_ms = per_query(&queries, |q| {
        black_box(rescore(&pools[at % nq], q, &index, k).expect("rows exist"));
        at += 1;
    });
    println!("exact search, {n} vectors x {dim} dims, one thread, median of {nq} queries");
    println!(
        "{:<38} {:>10} {:>12} {:>10}",
        "search", "ms/query", "vs f32", "MB held"
    );
    let mb = |b: u64| b as f64 / 1e6;
    let rows = [
        ("f32, top 10", f32_ms, index.size_bytes()),
        ("int8, top 10", int8_ms, int8.size_bytes()),
        ("binary, Hamming scan + top 40", bin_ms, binary.size_bytes()),
        ("binary top 40 rescored by f32 (apart)", rescore_ms, 0),
    ];
    for (name, ms, bytes) in rows {
        println!(
            "{name:<38} {ms:>10.4} {:>11.1}x {:>10.2}",
            f32_ms / ms,
            mb(bytes)
        );
    }
    println!(
        "binary with its rescoring: {:.1}x faster than f32",
        f32_ms / (bin_ms + rescore_ms)
    );
}
