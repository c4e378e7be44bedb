//! The one integration test binary, in three groups (pick the one a new test's main subject
//! belongs to): `cli` is the `jit` client against the portal stand-in and moto; `portal` is
//! `jit portal` / jit-portal itself, its API, admin and web pages, SSO and operation; `e2e` is the
//! whole system as outside tools drive it: the real AWS CLI and boto3, real shells under tmux.
//! `support` is the harness all three share.

mod support;

mod cli;
mod e2e;
mod portal;

// The crates' layering, read from their source.
mod layers;
