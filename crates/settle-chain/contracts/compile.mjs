// Compiles Settle's contracts with the pinned solc (EVM cancun, optimizer 200 runs) and writes each contract's
// ABI and bytecode to artifacts/NAME.json. With --check, compiles and fails if the committed artifacts differ.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import solc from "solc";

const here = path.dirname(fileURLToPath(import.meta.url));
const contracts = ["SettleGateway", "SettleForwarder", "TestToken"];
const sources = Object.fromEntries(
  contracts.map((c) => [`src/${c}.sol`, { content: fs.readFileSync(path.join(here, "src", `${c}.sol`), "utf8") }]),
);
const input = {
  language: "Solidity",
  sources,
  settings: {
    evmVersion: "cancun",
    optimizer: { enabled: true, runs: 200 },
    metadata: { bytecodeHash: "none", appendCBOR: false },
    outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } },
  },
};
function findImports(p) {
  const file = path.join(here, "node_modules", p);
  return fs.existsSync(file) ? { contents: fs.readFileSync(file, "utf8") } : { error: `not found: ${p}` };
}
const out = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
const errors = (out.errors || []).filter((e) => e.severity === "error");
for (const e of out.errors || []) console.error(e.formattedMessage);
if (errors.length) process.exit(1);

const check = process.argv.includes("--check");
let stale = 0;
fs.mkdirSync(path.join(here, "artifacts"), { recursive: true });
for (const c of contracts) {
  const art = out.contracts[`src/${c}.sol`][c];
  const json = JSON.stringify({ contractName: c, compiler: solc.version(), abi: art.abi, bytecode: "0x" + art.evm.bytecode.object }, null, 2) + "\n";
  const file = path.join(here, "artifacts", `${c}.json`);
  if (check) {
    if (!fs.existsSync(file) || fs.readFileSync(file, "utf8") !== json) {
      console.error(`artifacts/${c}.json is not what the sources compile to: run npm run compile and commit it`);
      stale++;
    }
  } else {
    fs.writeFileSync(file, json);
    console.log(`artifacts/${c}.json`);
  }
}
process.exit(stale ? 1 : 0);
