//! A Graph-compatible server for tests, demos and benchmarks. (Being written.)
