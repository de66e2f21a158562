pub fn run(_args: crate::cli::ExportTrecArgs) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
