pub fn run(_args: crate::cli::ServeArgs) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
