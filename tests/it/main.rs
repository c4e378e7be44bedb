//! The one integration test binary: the real `jit` binary against the portal stand-in, moto,
//! the real AWS CLI and boto3, and real shells.

mod support;

mod aws;
mod awscli;
mod cache;
mod credserver;
mod exec;
mod hardening;
mod hooks;
mod k8s;
mod load;
mod login;
mod login_hardening;
mod parity;
mod portal_a11y;
mod portal_admin;
mod portal_browser;
mod portal_k8s;
mod portal_oidc;
mod portal_oidc_browser;
mod portal_ops;
mod portal_profile;
mod portal_server;
mod portal_web;
mod shells;
