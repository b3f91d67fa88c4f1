//! Tests of the git store against real repositories and the git CLI.
