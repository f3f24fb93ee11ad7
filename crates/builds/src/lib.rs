//! Berth's automated builds: a repository links a git source and build rules; a push event from
//! the git host (or "Build now") queues a build; a worker clones the exact commit, builds it on
//! the Docker Engine the operator configured, and pushes the image to Berth itself, as any push.

pub mod badge;
pub mod dockerfile;
pub mod rules;
pub mod source;
pub mod trigger;
