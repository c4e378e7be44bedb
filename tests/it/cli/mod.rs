//! The `jit` client: its commands, cache, login listener, credential server and kubectl plugin,
//! against the portal stand-in and moto; what a duplo-jit user's scripts meet; and attacks on it.

mod aws;
mod cache;
mod console;
mod credserver;
mod exec;
mod hardening;
mod k8s;
mod load;
mod login;
mod login_hardening;
mod mfa;
mod parity;
