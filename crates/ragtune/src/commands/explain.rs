pub fn run(_args: crate::cli::ExplainArgs) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
