//! Storage lifecycle: the rules that govern how much a namespace may store, what is kept and
//! what is freed.

pub mod quota;
