//! Store contract suite (being written).
