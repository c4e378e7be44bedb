//! The whole system as outside tools drive it: the real AWS CLI and boto3 calling `jit`, and
//! the shell hooks, prompt and completions typed into real bash, zsh and fish under tmux; the
//! release archives as get.sh installs them; every shell block of the docs, run.

mod awscli;
mod docs;
mod hooks;
mod release;
mod shells;
