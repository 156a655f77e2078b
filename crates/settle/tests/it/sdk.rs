//! The SDKs in `sdk/` as an integrator uses them. They are what this build's OpenAPI document generates
//! (`scripts/sdk --check`, with this build's `settle openapi`); the TypeScript package type-checks against its
//! generated types; and each SDK's own smoke test passes against `settle serve --demo` on a dev chain: create, get,
//! list with a cursor, update metadata, cancel, a webhook verified, and (TypeScript) a gasless payment signed by a
//! viem wallet through the checkout helper.

use std::{path::PathBuf, process::Command};

use crate::{
    chain::{Anvil, DEV_KEYS, key},
    helpers::{Process, RECIPIENT, TOKEN, TempDir, unavailable},
};

fn root() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs `cmd` to completion; panics with its output unless it succeeded.
fn run(what: &str, cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{what} failed ({}):\n{stdout}\n{stderr}", out.status);
    stdout.into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_sdks_are_this_builds_and_pass_their_smoke_tests() {
    let Ok(python) = std::env::var("SETTLE_SDK_PYTHON") else {
        unavailable("the SDK tools", "are not installed (scripts/test installs them)");
        return;
    };
    let ts = root().join("sdk/typescript");
    if !ts.join("node_modules/.bin/tsc").exists() {
        unavailable("the TypeScript SDK's dependencies", "are not installed (npm ci in sdk/typescript)");
        return;
    }
    run(
        "scripts/sdk --check",
        Command::new("bash")
            .arg("scripts/sdk")
            .arg("--check")
            .current_dir(root())
            .env("SETTLE_BIN", env!("CARGO_BIN_EXE_settle"))
            .env("SDK_PYTHON", &python),
    );
    run(
        "tsc (the TypeScript SDK and its smoke test type-check and build)",
        Command::new(ts.join("node_modules/.bin/tsc")).arg("-p").arg(".").current_dir(&ts),
    );

    // `serve --demo` on a dev chain with Settle's contracts, webhooks allowed to reach this machine.
    let Some(anvil) = Anvil::start(31337, &[]).await else { return };
    settle_chain::deploy::deploy(&anvil.rpc(), &key(0), key(0).address(), key(2).address(), true).await.unwrap();
    let dir = TempDir::new();
    std::fs::write(dir.0.join("settle.toml"), crate::chain::dev_settle_toml(&anvil.url)).unwrap();
    let env = [
        ("SETTLE_LISTEN", "127.0.0.1:0".to_owned()),
        ("SETTLE_WEBHOOK_ALLOW_HOSTS", "127.0.0.1".to_owned()),
        ("SETTLE_CHAIN_31337_SIGNER_KEY", DEV_KEYS[0].to_owned()),
        ("SETTLE_CHAIN_31337_RELAYER_KEY", DEV_KEYS[0].to_owned()),
    ];
    let serve = Process::start(&dir, &["serve", "--demo"], &env, "Settle listening on ");
    let smoke_env = [
        ("SETTLE_URL", serve.base()),
        ("SETTLE_KEY", settle_app::merchants::DEMO_API_KEY.to_owned()),
        ("SMOKE_RPC", anvil.url.clone()),
        ("SMOKE_CHAIN_ID", "31337".to_owned()),
        ("SMOKE_TOKEN", TOKEN.to_owned()),
        ("SMOKE_RECIPIENT", RECIPIENT.to_owned()),
        ("SMOKE_MINTER_KEY", DEV_KEYS[1].to_owned()),
    ];
    let out = run(
        "the TypeScript SDK's smoke test",
        Command::new("node").arg("dist/smoke.js").current_dir(&ts).envs(smoke_env.iter().map(|(k, v)| (*k, v))),
    );
    assert!(out.contains("gasless payment through the checkout helper: ok") && out.ends_with("smoke: ok\n"), "{out}");
    let out = run(
        "the Python SDK's smoke test",
        // -B: no __pycache__ left in sdk/python (scripts/sdk --check compares that tree).
        Command::new(&python).arg("-B").arg("smoke.py").current_dir(root().join("sdk/python")).envs(smoke_env.iter().map(|(k, v)| (*k, v))),
    );
    assert!(out.ends_with("smoke: ok\n"), "{out}");
    drop(serve);
}
