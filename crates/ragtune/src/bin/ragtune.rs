fn main() -> std::process::ExitCode {
    ragtune::main()
}
