//! Synthetic BELs.
