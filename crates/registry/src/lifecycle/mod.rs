//! Storage lifecycle: what frees, keeps and limits what the registry stores. Each part keeps
//! its own tables and SQL here, beside the core metadata of [`crate::meta`].

pub mod gc;
pub mod immutable;
pub mod quota;
pub mod retention;
