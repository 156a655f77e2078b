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
/// @notice Pays only terms Settle signed (EIP-712, domain "SettleGateway" "3"), before their deadline, once.
///         The payer is `_msgSender()`: the caller, or the signer of a request relayed by the trusted
///         ERC2771Forwarder, so a payer holding no ETH pays with signatures alone (with `payWithPermit`).
///         Terms Settle has cancelled (a `Cancellation` it signed, submitted by anyone) are never paid. Ownership
///         moves in two steps (the new owner accepts).
///         Version 2 adds refunds: `refund` pays the payer back from the payment's recipient (the merchant), through
///         the allowance the recipient gave this contract, for refund terms both Settle and the recipient signed (or
///         Settle signed and the recipient sends itself); a refund id is used once and a payment's refunds never sum
///         past what it paid. Anyone may submit signed terms (Settle's relayer does, so the merchant pays no gas).
///         Version 3 can give the fee back: a refund's terms name the part of it (`feeReturned`) that the treasury
///         pays, through the allowance the treasury gave this contract, and the recipient pays the rest; the fee a
///         payment's refunds give back never sums past the fee it paid. Terms with `feeReturned` 0 leave the fee
///         with the treasury, and the recipient pays the whole refund. The treasury that pays a fee back is the one
///         named when the refund is made (after `setTreasury`, the new one: the operator moves the fee budget along).
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
        // Packed with the payer (one storage write): the fee is (amount * feeBps) / 10000, as paid.
        uint16 feeBps;
        address token;
        uint256 amount;
        uint256 blockNumber;
        address recipient;
        uint256 refunded;
        uint256 feeReturned;
    }

    struct RefundTerms {
        bytes32 refundId;
        bytes32 paymentId;
        uint256 amount;
        uint256 feeReturned;
        uint64 deadline;
    }

    struct Refund {
        bytes32 paymentId;
        uint256 amount;
        uint256 blockNumber;
    }

    bytes32 public constant PAYMENT_TERMS_TYPEHASH = keccak256(
        "PaymentTerms(bytes32 paymentId,address token,uint256 amount,address recipient,uint16 feeBps,uint64 deadline)"
    );
    bytes32 public constant CANCELLATION_TYPEHASH = keccak256("Cancellation(bytes32 paymentId)");
    bytes32 public constant REFUND_TERMS_TYPEHASH =
        keccak256("RefundTerms(bytes32 refundId,bytes32 paymentId,uint256 amount,uint256 feeReturned,uint64 deadline)");

    /// @notice The key whose signature makes terms payable.
    address public signer;
    /// @notice Where fees go.
    address public treasury;
    mapping(bytes32 => Payment) private _payments;
    /// @notice Payments Settle cancelled: their terms are refused from then on.
    mapping(bytes32 => bool) public cancelled;
    mapping(bytes32 => Refund) private _refunds;

    event PaymentCompleted(
        bytes32 indexed paymentId, address indexed payer, address token, uint256 amount, uint256 fee, address recipient
    );
    event PaymentCancelled(bytes32 indexed paymentId);
    event RefundCompleted(
        bytes32 indexed refundId, bytes32 indexed paymentId, address indexed payer, address token, uint256 amount, address from
    );
    event SignerChanged(address signer);
    event TreasuryChanged(address treasury);

    error InvalidSignature();
    error PaymentExpired();
    error AlreadyPaid();
    error InvalidTerms();
    error ZeroAddress();
    error PaymentIsCancelled();
    error NotPaid();
    error AlreadyRefunded();
    error RefundExceedsPaid();
    error RefundExpired();
    error NotAuthorizedByRecipient();
    error FeeReturnExceedsFee();

    constructor(address trustedForwarder_, address signer_, address treasury_, address owner_)
        ERC2771Context(trustedForwarder_)
        Ownable(owner_)
        EIP712("SettleGateway", "3")
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

    /// @notice Pays the payer of `terms.paymentId` back `terms.amount`: `terms.feeReturned` of it from the treasury
    ///         and the rest from the payment's recipient, each through the allowance it gave this contract. Refused:
    ///         terms Settle did not sign, terms the recipient neither signed (`recipientSignature`, the same
    ///         `RefundTerms`) nor sends itself, past their deadline, a refund id used before, an unpaid payment, a zero
    ///         amount or one that takes the refunds past the paid amount, a fee returned above the amount or one that
    ///         takes the fees returned past the fee paid. (An allowance alone never lets anyone refund out of it: each
    ///         refund is the recipient's.)
    function refund(RefundTerms calldata terms, bytes calldata serverSignature, bytes calldata recipientSignature)
        external
        whenNotPaused
    {
        _refund(terms, serverSignature, recipientSignature);
    }

    /// @notice Sets the recipient's allowance with its EIP-2612 permit, then refunds. A permit already used is
    ///         ignored: the allowance it set is what refunds.
    function refundWithPermit(
        RefundTerms calldata terms,
        bytes calldata serverSignature,
        bytes calldata recipientSignature,
        uint256 permitValue,
        uint256 permitDeadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external whenNotPaused {
        Payment storage p = _payments[terms.paymentId];
        if (p.payer == address(0)) revert NotPaid();
        try IERC20Permit(p.token).permit(p.recipient, address(this), permitValue, permitDeadline, v, r, s) {} catch {}
        _refund(terms, serverSignature, recipientSignature);
    }

    /// @notice The payment a refund id refunded, how much, and in which block (zeros when unused).
    function getRefund(bytes32 refundId) external view returns (bytes32 paymentId, uint256 amount, uint256 blockNumber) {
        Refund storage f = _refunds[refundId];
        return (f.paymentId, f.amount, f.blockNumber);
    }

    /// @notice How much of `paymentId` was refunded, and who received the payment (the refunds' source).
    function getRefunded(bytes32 paymentId) external view returns (uint256 refunded, address recipient) {
        Payment storage p = _payments[paymentId];
        return (p.refunded, p.recipient);
    }

    /// @notice The fee `paymentId` paid to the treasury, and how much of it its refunds gave back.
    function getFee(bytes32 paymentId) external view returns (uint256 fee, uint256 feeReturned) {
        Payment storage p = _payments[paymentId];
        return (_feeOf(p), p.feeReturned);
    }

    /// @dev The fee a paid payment paid to the treasury (the product never overflows: paying computed it).
    function _feeOf(Payment storage p) private view returns (uint256) {
        return (p.amount * p.feeBps) / 10_000;
    }

    /// @notice The EIP-712 digest Settle signs for refund `terms`.
    function hashRefundTerms(RefundTerms calldata terms) public view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(abi.encode(REFUND_TERMS_TYPEHASH, terms.refundId, terms.paymentId, terms.amount, terms.feeReturned, terms.deadline))
        );
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
        _payments[terms.paymentId] = Payment(payer, terms.feeBps, terms.token, terms.amount, block.number, terms.recipient, 0, 0);
        IERC20(terms.token).safeTransferFrom(payer, terms.recipient, terms.amount - fee);
        if (fee > 0) {
            IERC20(terms.token).safeTransferFrom(payer, treasury, fee);
        }
        emit PaymentCompleted(terms.paymentId, payer, terms.token, terms.amount, fee, terms.recipient);
    }

    function _refund(RefundTerms calldata terms, bytes calldata serverSignature, bytes calldata recipientSignature)
        private
    {
        if (block.timestamp > terms.deadline) revert RefundExpired();
        if (_refunds[terms.refundId].blockNumber != 0) revert AlreadyRefunded();
        Payment storage p = _payments[terms.paymentId];
        if (p.payer == address(0)) revert NotPaid();
        if (terms.amount == 0 || p.refunded + terms.amount > p.amount) revert RefundExceedsPaid();
        if (terms.feeReturned > terms.amount || p.feeReturned + terms.feeReturned > _feeOf(p)) revert FeeReturnExceedsFee();
        bytes32 digest = hashRefundTerms(terms);
        if (ECDSA.recover(digest, serverSignature) != signer) revert InvalidSignature();
        if (_msgSender() != p.recipient) {
            if (recipientSignature.length == 0 || ECDSA.recover(digest, recipientSignature) != p.recipient) {
                revert NotAuthorizedByRecipient();
            }
        }
        p.refunded += terms.amount;
        p.feeReturned += terms.feeReturned;
        _refunds[terms.refundId] = Refund(terms.paymentId, terms.amount, block.number);
        if (terms.amount > terms.feeReturned) {
            IERC20(p.token).safeTransferFrom(p.recipient, p.payer, terms.amount - terms.feeReturned);
        }
        if (terms.feeReturned > 0) {
            IERC20(p.token).safeTransferFrom(treasury, p.payer, terms.feeReturned);
        }
        emit RefundCompleted(terms.refundId, terms.paymentId, p.payer, p.token, terms.amount, p.recipient);
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
