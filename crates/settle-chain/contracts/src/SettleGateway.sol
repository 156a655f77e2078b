// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {ERC2771Context} from "@openzeppelin/contracts/metatx/ERC2771Context.sol";
import {Context} from "@openzeppelin/contracts/utils/Context.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

/// @title Settle's payment gateway: the source of truth for whether a payment was paid.
/// @notice Pays only terms Settle signed (EIP-712, domain "SettleGateway" "1"), before their deadline, once.
///         The payer is `_msgSender()`: the caller, or the signer of a request relayed by the trusted
///         ERC2771Forwarder, so a payer holding no ETH pays with signatures alone (with `payWithPermit`).
///         Terms Settle has cancelled (a `Cancellation` it signed, submitted by anyone) are never paid. Ownership
///         moves in two steps (the new owner accepts).
contract SettleGateway is ERC2771Context, Ownable2Step, Pausable, EIP712 {
    using SafeERC20 for IERC20;

    struct PaymentTerms {
        bytes32 paymentId;
        address token;
        uint256 amount;
        address recipient;
        uint16 feeBps;
        uint64 deadline;
    }

    struct Payment {
        address payer;
        address token;
        uint256 amount;
        uint256 blockNumber;
    }

    bytes32 public constant PAYMENT_TERMS_TYPEHASH = keccak256(
        "PaymentTerms(bytes32 paymentId,address token,uint256 amount,address recipient,uint16 feeBps,uint64 deadline)"
    );
    bytes32 public constant CANCELLATION_TYPEHASH = keccak256("Cancellation(bytes32 paymentId)");

    /// @notice The key whose signature makes terms payable.
    address public signer;
    /// @notice Where fees go.
    address public treasury;
    mapping(bytes32 => Payment) private _payments;
    /// @notice Payments Settle cancelled: their terms are refused from then on.
    mapping(bytes32 => bool) public cancelled;

    event PaymentCompleted(
        bytes32 indexed paymentId, address indexed payer, address token, uint256 amount, uint256 fee, address recipient
    );
    event PaymentCancelled(bytes32 indexed paymentId);
    event SignerChanged(address signer);
    event TreasuryChanged(address treasury);

    error InvalidSignature();
    error PaymentExpired();
    error AlreadyPaid();
    error InvalidTerms();
    error ZeroAddress();
    error PaymentIsCancelled();

    constructor(address trustedForwarder_, address signer_, address treasury_, address owner_)
        ERC2771Context(trustedForwarder_)
        Ownable(owner_)
        EIP712("SettleGateway", "1")
    {
        if (signer_ == address(0) || treasury_ == address(0)) revert ZeroAddress();
        signer = signer_;
        treasury = treasury_;
    }

    /// @notice Pays `terms` from the payer's allowance.
    function pay(PaymentTerms calldata terms, bytes calldata serverSignature) external whenNotPaused {
        _pay(terms, serverSignature);
    }

    /// @notice Sets the allowance with the payer's EIP-2612 permit, then pays. A permit already used (say, by
    ///         someone who saw it first) is ignored: the allowance it set is what pays.
    function payWithPermit(
        PaymentTerms calldata terms,
        bytes calldata serverSignature,
        uint256 permitDeadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external whenNotPaused {
        try IERC20Permit(terms.token).permit(_msgSender(), address(this), terms.amount, permitDeadline, v, r, s) {} catch {}
        _pay(terms, serverSignature);
    }

    /// @notice Cancels `paymentId` with the signer's `Cancellation`; anyone may submit it. Refused once the payment
    ///         is paid; cancelling twice changes nothing.
    function cancel(bytes32 paymentId, bytes calldata signature) external {
        if (ECDSA.recover(hashCancellation(paymentId), signature) != signer) revert InvalidSignature();
        if (_payments[paymentId].payer != address(0)) revert AlreadyPaid();
        if (cancelled[paymentId]) return;
        cancelled[paymentId] = true;
        emit PaymentCancelled(paymentId);
    }

    /// @notice The EIP-712 digest Settle signs to cancel `paymentId`.
    function hashCancellation(bytes32 paymentId) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(CANCELLATION_TYPEHASH, paymentId)));
    }

    /// @notice Who paid `paymentId`, with what, and in which block (zeros when unpaid).
    function getPayment(bytes32 paymentId)
        external
        view
        returns (address payer, address token, uint256 amount, uint256 blockNumber)
    {
        Payment storage p = _payments[paymentId];
        return (p.payer, p.token, p.amount, p.blockNumber);
    }

    /// @notice The EIP-712 digest Settle signs for `terms`.
    function hashTerms(PaymentTerms calldata terms) public view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(
                abi.encode(
                    PAYMENT_TERMS_TYPEHASH,
                    terms.paymentId,
                    terms.token,
                    terms.amount,
                    terms.recipient,
                    terms.feeBps,
                    terms.deadline
                )
            )
        );
    }

    function setSigner(address signer_) external onlyOwner {
        if (signer_ == address(0)) revert ZeroAddress();
        signer = signer_;
        emit SignerChanged(signer_);
    }

    function setTreasury(address treasury_) external onlyOwner {
        if (treasury_ == address(0)) revert ZeroAddress();
        treasury = treasury_;
        emit TreasuryChanged(treasury_);
    }

    function pause() external onlyOwner {
        _pause();
    }

    function unpause() external onlyOwner {
        _unpause();
    }

    function _pay(PaymentTerms calldata terms, bytes calldata serverSignature) private {
        if (block.timestamp > terms.deadline) revert PaymentExpired();
        if (_payments[terms.paymentId].payer != address(0)) revert AlreadyPaid();
        if (cancelled[terms.paymentId]) revert PaymentIsCancelled();
        if (terms.amount == 0 || terms.feeBps > 10_000 || terms.recipient == address(0)) revert InvalidTerms();
        // ECDSA.recover rejects malformed and high-s signatures.
        if (ECDSA.recover(hashTerms(terms), serverSignature) != signer) revert InvalidSignature();
        address payer = _msgSender();
        uint256 fee = (terms.amount * terms.feeBps) / 10_000;
        _payments[terms.paymentId] = Payment(payer, terms.token, terms.amount, block.number);
        IERC20(terms.token).safeTransferFrom(payer, terms.recipient, terms.amount - fee);
        if (fee > 0) {
            IERC20(terms.token).safeTransferFrom(payer, treasury, fee);
        }
        emit PaymentCompleted(terms.paymentId, payer, terms.token, terms.amount, fee, terms.recipient);
    }

    function _msgSender() internal view override(Context, ERC2771Context) returns (address) {
        return ERC2771Context._msgSender();
    }

    function _msgData() internal view override(Context, ERC2771Context) returns (bytes calldata) {
        return ERC2771Context._msgData();
    }

    function _contextSuffixLength() internal view override(Context, ERC2771Context) returns (uint256) {
        return ERC2771Context._contextSuffixLength();
    }
}
