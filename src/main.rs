fn main() {
    std::process::exit(tenantgit::cli::main());
}
