//! Renderers for diffs and plans: human, json, markdown. (Being written.)
