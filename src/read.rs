//! Reads the live tenant through Graph into a Snapshot. (Being written.)
