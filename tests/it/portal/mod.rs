//! `jit portal` / jit-portal itself: its API and refusals, the admin, profile and sign-in pages
//! over HTTP and in Chromium, single sign-on, Kubernetes tokens, accessibility, and running it.

mod admin_doors;
mod portal_a11y;
mod portal_access;
// `admin_doors` drives the admin pages with these.
pub(crate) mod portal_admin;
// The `cli` group's login tests sign in to a real portal with these.
pub(crate) mod portal_browser;
mod portal_device;
mod portal_files;
mod portal_k8s;
// `portal_notify` reads the notification backlog with these.
pub(crate) mod portal_metrics;
mod portal_mfa;
mod portal_notify;
mod portal_oidc;
mod portal_oidc_browser;
mod portal_ops;
mod portal_passkeys;
mod portal_profile;
pub(crate) mod portal_server;
// `portal_notify` sends chat notifications to its webhook receiver.
pub(crate) mod portal_stream;
pub(crate) mod portal_web;
