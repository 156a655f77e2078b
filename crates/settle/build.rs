//! Names the commit Settle is built from and the last migration it knows, for `settle --version`.

fn main() {
    // A build without the repository (a container's) passes the commit in SETTLE_GIT_COMMIT.
    println!("cargo:rerun-if-env-changed=SETTLE_GIT_COMMIT");
    let commit = std::env::var("SETTLE_GIT_COMMIT").ok().filter(|c| !c.is_empty()).unwrap_or_else(git_commit);
    let dir = std::path::Path::new("../settle-store/src/migration");
    let mut migrations: Vec<String> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok()?.file_name().into_string().ok()).filter(|n| n.starts_with('m') && n.ends_with(".rs")).collect())
        .unwrap_or_default();
    migrations.sort();
    let head = migrations.last().map(|m| m.trim_end_matches(".rs").to_owned()).unwrap_or_default();
    println!("cargo:rustc-env=SETTLE_GIT_COMMIT={commit}");
    println!("cargo:rustc-env=SETTLE_MIGRATION_HEAD={head}");
    println!("cargo:rerun-if-changed=../settle-store/src/migration");
    for git in ["../../.git/HEAD", "../../.git/refs/heads", "../../.git/packed-refs"] {
        if std::path::Path::new(git).exists() {
            println!("cargo:rerun-if-changed={git}");
        }
    }
}

fn git_commit() -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".into())
}
