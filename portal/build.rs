//! Rebuilds the portal when a migration is added: `sqlx::migrate!` reads the migrations
//! directories at compile time, and cargo only watches the files it already embedded.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
