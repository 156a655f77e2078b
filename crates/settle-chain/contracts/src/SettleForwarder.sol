// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {ERC2771Forwarder} from "@openzeppelin/contracts/metatx/ERC2771Forwarder.sol";

/// @title OpenZeppelin's ERC2771Forwarder, named "SettleForwarder" in its EIP-712 domain (version "1").
contract SettleForwarder is ERC2771Forwarder {
    constructor() ERC2771Forwarder("SettleForwarder") {}
}
