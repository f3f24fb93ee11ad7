//! Storage lifecycle: the rules that decide what the registry keeps and what it lets go.

pub mod retention;
