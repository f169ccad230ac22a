//! The `SubsidyProject` aggregate.
