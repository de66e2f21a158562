//! `ragtune query --run RUN "text"`: the same answer as POST /search, in a terminal.

use std::io::Write;

use ragtune_serve::Engine;

use crate::cli::QueryArgs;

pub fn run(args: QueryArgs) -> anyhow::Result<()> {
    // The same limits as POST /search.
    let limits = ragtune_serve::Limits::default();
    if !(1..=limits.max_k).contains(&args.k) {
        let msg = format!(
            "-k/--k {}: must be between 1 and {} (the server's limit)",
            args.k, limits.max_k
        );
        return Err(crate::UserError(msg).into());
    }
    if args.text.trim().is_empty() {
        return Err(crate::UserError(
            "`TEXT`: the query must not be empty; give the question to retrieve for".into(),
        )
        .into());
    }
    if args.text.chars().count() > limits.max_query_chars {
        let msg = format!(
            "the query is longer than {} characters",
            limits.max_query_chars
        );
        return Err(crate::UserError(msg).into());
    }
    let opts = super::sweep_options(&args.engine)?;
    let engine = Engine::open(&args.run, args.config.as_deref(), &opts)?;
    eprintln!(
        "ragtune: setup {}: {} ({:.2}s)",
        engine.config_id,
        engine.provenance(),
        engine.startup_seconds
    );
    let response = engine.search(&args.text, args.k)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        super::print_json(&mut out, &response)?;
        return Ok(());
    }
    writeln!(
        out,
        "setup {} ({}), top {}",
        engine.config_id,
        engine.point.label(),
        args.k
    )?;
    for h in &response.results {
        let comp = |c: Option<ragtune_serve::Component>| {
            c.map_or("-".to_string(), |c| format!("#{} {:.4}", c.rank, c.score))
        };
        let pages = h.first_page.zip(h.last_page).map_or(String::new(), |p| {
            format!(", {}", ragtune_core::format_pages(p))
        });
        writeln!(
            out,
            "{:>3}. {:.4}  {}{pages} [{}, {})  bm25 {}  vector {}",
            h.rank,
            h.score,
            h.doc_id,
            h.start,
            h.end,
            comp(h.bm25),
            comp(h.vector)
        )?;
        writeln!(out, "     {}", one_line(&h.text, 160))?;
    }
    Ok(())
}

/// The text on one line, cut at `max` characters.
pub fn one_line(text: &str, max: usize) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() > max {
        format!("{}…", flat.chars().take(max).collect::<String>())
    } else {
        flat
    }
}
