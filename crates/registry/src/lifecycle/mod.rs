//! Storage lifecycle: the rules that govern how long tags, manifests and blobs live.

pub mod immutable;
