pub fn run(_args: crate::cli::QueryArgs) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
