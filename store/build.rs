// `sqlx::migrate!` embeds the migration files at compile time; this makes cargo rebuild the crate
// when a migration is added or edited (other crates add their migrations to these directories).
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
