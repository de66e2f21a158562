//! `ragtune cache stats|gc`: what the stage store holds, and keeping it within a size.

use std::io::Write;

use crate::UserError;
use crate::cli::{CacheArgs, CacheCommand};

/// `"5GB"`, `"512MiB"`, `"1000"` (bytes) → bytes.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{text:?} is not a size like 5GB, 500MB or 1024"))?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "m" | "mb" => 1e6,
        "g" | "gb" => 1e9,
        "t" | "tb" => 1e12,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        other => {
            return Err(format!(
                "{text:?}: unknown unit {other:?} (use B, KB, MB, GB, TB, KiB, MiB or GiB)"
            ));
        }
    };
    Ok((n * mult).round() as u64)
}

fn human(bytes: u64) -> String {
    let b = bytes as f64;
    match b {
        b if b >= 1e9 => format!("{:.2} GB", b / 1e9),
        b if b >= 1e6 => format!("{:.1} MB", b / 1e6),
        b if b >= 1e3 => format!("{:.1} kB", b / 1e3),
        _ => format!("{bytes} B"),
    }
}

pub fn run(args: CacheArgs) -> anyhow::Result<()> {
    let root = args.cache_dir;
    if root.exists() && !root.is_dir() {
        return Err(UserError(format!(
            "{}: not a stage store (a store is a folder; see --cache-dir)",
            root.display()
        ))
        .into());
    }
    let mut out = std::io::stdout().lock();
    match args.command {
        CacheCommand::Stats { json } => {
            let usage = ragtune_store::usage(&root)?;
            let history = ragtune_store::history(&root);
            if json {
                let v = serde_json::json!({ "stages": usage, "since_created": history });
                super::print_json(&mut out, &v)?;
                return Ok(());
            }
            writeln!(out, "stage store {}", root.display())?;
            let row = |out: &mut dyn Write, cells: [&str; 7]| {
                writeln!(
                    out,
                    "{:<10} {:>9} {:>12} {:>9} {:>9} {:>9} {:>8}",
                    cells[0], cells[1], cells[2], cells[3], cells[4], cells[5], cells[6]
                )
            };
            row(
                &mut out,
                [
                    "stage", "entries", "size", "hits", "misses", "writes", "corrupt",
                ],
            )?;
            for u in &usage {
                let h = history.get(&u.stage).copied().unwrap_or_default();
                let n = [h.hits, h.misses, h.writes, h.corrupt].map(|x| x.to_string());
                let (e, size) = (u.entries.to_string(), human(u.bytes));
                row(&mut out, [&u.stage, &e, &size, &n[0], &n[1], &n[2], &n[3]])?;
            }
            let total: u64 = usage.iter().map(|u| u.bytes).sum();
            let entries: u64 = usage.iter().map(|u| u.entries).sum();
            writeln!(out, "{:<10} {:>9} {:>12}", "total", entries, human(total))?;
            writeln!(
                out,
                "(hits, misses, writes and damaged entries since the store was created)"
            )?;
        }
        CacheCommand::Gc { max_size } => {
            let max = parse_size(&max_size).map_err(|e| UserError(format!("--max-size: {e}")))?;
            let r = ragtune_store::gc(&root, max)?;
            writeln!(
                out,
                "removed {} entries ({}; {} of an older format), kept {} (limit {})",
                r.removed,
                human(r.removed_bytes),
                r.outdated,
                human(r.kept_bytes),
                human(max)
            )?;
            if !r.complete(max) {
                for f in &r.failed {
                    eprintln!("ragtune: cache gc: could not remove {f}");
                }
                return Err(UserError(format!(
                    "{}: cache gc removed less than asked: {} entries could not be removed, {} kept against a limit of {}",
                    root.display(),
                    r.failed.len(),
                    human(r.kept_bytes),
                    human(max)
                ))
                .into());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_units() {
        assert_eq!(parse_size("5GB"), Ok(5_000_000_000));
        assert_eq!(parse_size("1.5 MiB"), Ok(1_572_864));
        assert_eq!(parse_size("1024"), Ok(1024));
        assert!(parse_size("lots").is_err());
        assert!(
            parse_size("5 parsecs")
                .unwrap_err()
                .contains("unknown unit")
        );
    }
}
