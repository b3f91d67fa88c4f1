//! The `tenantgit` binary: the allocator, then `cli::main()`.

// mimalloc keeps the snapshot of a large tenant (millions of small allocations made from several
// threads) smaller in memory and faster to build than the system allocator does.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(tenantgit::cli::main());
}
