//! Command-line interface. (Being written.)

/// Runs the program and returns its exit status.
pub fn main() -> i32 {
    0
}
