//! Records the git commit the binary was built from (for event documents).

fn main() {
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    println!("cargo:rustc-env=AMPEL_GIT_COMMIT={commit}");
    // For `ampel --version`: says so when the build had no git checkout.
    let shown = if commit.is_empty() {
        "unknown"
    } else {
        &commit
    };
    println!("cargo:rustc-env=AMPEL_VERSION_COMMIT={shown}");
    println!("cargo:rerun-if-changed=../.git/HEAD");
    println!("cargo:rerun-if-changed=../.git/refs");
}
