//! `sqlx::migrate!` embeds the migration files at compile time; a new file must rebuild
//! the crate, which cargo only knows if it is told.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
