# Sourced by scripts/test and scripts/bench: the chain tests' tools (solc, OpenZeppelin, anvil) from npm.
# contract_toolchain: installs them (npm ci in crates/settle-chain/contracts) when missing or older than the lock
# file; fails when anvil is not there afterwards (no npm).
contracts=crates/settle-chain/contracts
contract_toolchain() {
  if [ ! -x "$contracts/node_modules/.bin/anvil" ] || [ "$contracts/package-lock.json" -nt "$contracts/node_modules/.package-lock.json" ]; then
    command -v npm >/dev/null || return 1
    echo "installing the contract toolchain and anvil (npm ci in $contracts)" >&2
    (cd "$contracts" && npm ci --no-audit --no-fund >/dev/null) || { echo "npm ci in $contracts failed" >&2; return 1; }
  fi
  [ -x "$contracts/node_modules/.bin/anvil" ]
}
