//! The contracts' Solidity types and calls (`sol!`), and their compiled artifacts (ABI and bytecode committed in
//! `contracts/artifacts/`, compiled from `contracts/src/` by `contracts/compile.mjs`).

use alloy::primitives::Bytes;

alloy::sol! {
    /// What Settle signs for a payment (EIP-712, the gateway's domain: "SettleGateway", version "1", "2" or "3").
    #[derive(Debug, PartialEq, Eq)]
    struct PaymentTerms {
        bytes32 paymentId;
        address token;
        uint256 amount;
        address recipient;
        uint16 feeBps;
        uint64 deadline;
    }

    /// The request a payer signs for the forwarder (EIP-712, domain "SettleForwarder" "1").
    #[derive(Debug, PartialEq, Eq)]
    struct ForwardRequest {
        address from;
        address to;
        uint256 value;
        uint256 gas;
        uint256 nonce;
        uint48 deadline;
        bytes data;
    }

    /// An EIP-2612 permit (EIP-712, the token's own domain).
    #[derive(Debug, PartialEq, Eq)]
    struct Permit {
        address owner;
        address spender;
        uint256 value;
        uint256 nonce;
        uint256 deadline;
    }

    /// What Settle signs to cancel a payment's terms (EIP-712, the gateway's domain).
    #[derive(Debug, PartialEq, Eq)]
    struct Cancellation {
        bytes32 paymentId;
    }

    /// What Settle signs for a refund (EIP-712, the domain of a gateway of version "3"; [`v2`] before): the part of
    /// `amount` the treasury pays back (the fee returned), the rest paid by the payment's recipient.
    #[derive(Debug, PartialEq, Eq)]
    struct RefundTerms {
        bytes32 refundId;
        bytes32 paymentId;
        uint256 amount;
        uint256 feeReturned;
        uint64 deadline;
    }

    /// The forwarder's `execute` argument.
    #[derive(Debug, PartialEq, Eq)]
    struct ForwardRequestData {
        address from;
        address to;
        uint256 value;
        uint256 gas;
        uint48 deadline;
        bytes data;
        bytes signature;
    }

    function pay(PaymentTerms terms, bytes serverSignature) external;
    function payWithPermit(PaymentTerms terms, bytes serverSignature, uint256 permitDeadline, uint8 v, bytes32 r, bytes32 s) external;
    function getPayment(bytes32 paymentId) external view returns (address payer, address token, uint256 amount, uint256 blockNumber);
    /// The key whose signature makes terms payable at this gateway.
    function signer() external view returns (address);
    event PaymentCompleted(bytes32 indexed paymentId, address indexed payer, address token, uint256 amount, uint256 fee, address recipient);
    function cancel(bytes32 paymentId, bytes signature) external;
    function cancelled(bytes32 paymentId) external view returns (bool);
    event PaymentCancelled(bytes32 indexed paymentId);
    function refund(RefundTerms terms, bytes serverSignature, bytes recipientSignature) external;
    function refundWithPermit(RefundTerms terms, bytes serverSignature, bytes recipientSignature, uint256 permitValue, uint256 permitDeadline, uint8 v, bytes32 r, bytes32 s) external;
    function getRefund(bytes32 refundId) external view returns (bytes32 paymentId, uint256 amount, uint256 blockNumber);
    function getRefunded(bytes32 paymentId) external view returns (uint256 refunded, address recipient);
    /// Version 3: the fee a payment paid to the treasury, and how much of it its refunds gave back.
    function getFee(bytes32 paymentId) external view returns (uint256 fee, uint256 feeReturned);
    function treasury() external view returns (address);
    event RefundCompleted(bytes32 indexed refundId, bytes32 indexed paymentId, address indexed payer, address token, uint256 amount, address from);
    /// EIP-5267: the EIP-712 domain a contract signs under (its version tells the gateway's).
    function eip712Domain() external view returns (bytes1 fields, string name, string version, uint256 chainId, address verifyingContract, bytes32 salt, uint256[] extensions);
    function allowance(address owner, address spender) external view returns (uint256);
    function owner() external view returns (address);
    function pendingOwner() external view returns (address);
    function acceptOwnership() external;
    function transferOwnership(address newOwner) external;

    function execute(ForwardRequestData request) external payable;
    function nonces(address owner) external view returns (uint256);

    function name() external view returns (string);
    function balanceOf(address account) external view returns (uint256);
    function approve(address spender, uint256 value) external returns (bool);
    function transfer(address to, uint256 value) external returns (bool);
    function mint(address to, uint256 amount) external;

}

alloy::sol! {
    /// Every error a payment's call can revert with.
    #[sol(all_derives)]
    interface Reverts {
    error InvalidSignature();
    error PaymentExpired();
    error AlreadyPaid();
    error InvalidTerms();
    error PaymentIsCancelled();
    error NotPaid();
    error AlreadyRefunded();
    error RefundExceedsPaid();
    error RefundExpired();
    error NotAuthorizedByRecipient();
    error FeeReturnExceedsFee();
    error EnforcedPause();
    error ECDSAInvalidSignature();
    error ECDSAInvalidSignatureS(bytes32 s);
    error ERC2771ForwarderInvalidSigner(address signer, address from);
    error ERC2771ForwarderMismatchedValue(uint256 requestedValue, uint256 msgValue);
    error ERC2771ForwarderExpiredRequest(uint48 deadline);
    error ERC2771UntrustfulTarget(address target, address forwarder);
    error ERC20InsufficientAllowance(address spender, uint256 allowance, uint256 needed);
    error ERC20InsufficientBalance(address sender, uint256 balance, uint256 needed);
    error FailedCall();
    }
}

/// A compiled contract.
pub struct Artifact {
    pub name: &'static str,
    json: &'static str,
}

/// Refunds at a gateway of version 2 (whose terms have no fee returned: the recipient pays all of a refund).
pub mod v2 {
    alloy::sol! {
        /// What Settle signs for a refund at a gateway of version "2".
        #[derive(Debug, PartialEq, Eq)]
        struct RefundTerms {
            bytes32 refundId;
            bytes32 paymentId;
            uint256 amount;
            uint64 deadline;
        }

        function refund(RefundTerms terms, bytes serverSignature, bytes recipientSignature) external;
        function refundWithPermit(RefundTerms terms, bytes serverSignature, bytes recipientSignature, uint256 permitValue, uint256 permitDeadline, uint8 v, bytes32 r, bytes32 s) external;
    }
}

pub const GATEWAY: Artifact = Artifact { name: "SettleGateway", json: include_str!("../contracts/artifacts/SettleGateway.json") };
pub const FORWARDER: Artifact = Artifact { name: "SettleForwarder", json: include_str!("../contracts/artifacts/SettleForwarder.json") };
/// The gateway of version 2, as it was compiled (kept to test a chain moving from it to the current one).
pub const GATEWAY_V2: Artifact = Artifact { name: "SettleGateway", json: include_str!("../contracts/fixtures/SettleGatewayV2.json") };
pub const TEST_TOKEN: Artifact = Artifact { name: "TestToken", json: include_str!("../contracts/artifacts/TestToken.json") };

impl Artifact {
    /// The creation bytecode.
    pub fn bytecode(&self) -> Bytes {
        let v: serde_json::Value = serde_json::from_str(self.json).unwrap_or_default();
        let hex = v["bytecode"].as_str().unwrap_or_default();
        hex::decode(hex.trim_start_matches("0x")).map(Bytes::from).unwrap_or_default()
    }
}

/// A revert's data, decoded into the contract error's name (and arguments) where Settle knows it.
pub fn revert_reason(data: &[u8]) -> String {
    use alloy::sol_types::{SolError, SolInterface};
    if data.is_empty() {
        return "reverted without a reason".into();
    }
    if let Ok(e) = Reverts::RevertsErrors::abi_decode(data) {
        return format!("{e:?}");
    }
    match alloy::sol_types::Revert::abi_decode(data) {
        Ok(r) => r.reason,
        Err(_) => format!("reverted with 0x{}", hex::encode(data)),
    }
}
