//! Snapshot vs snapshot → sorted changes at attribute and link level. (Being written.)
