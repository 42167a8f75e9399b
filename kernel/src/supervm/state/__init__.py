"""The world state: the account model and its commitment (the Ethereum state root)."""

from supervm.state.root import (
    EMPTY_CODE_HASH,
    Account,
    AccountState,
    StateRoot,
    encode_account,
)
from supervm.state.trie import (
    EMPTY_ROOT,
    InvalidNodeError,
    InvalidProofError,
    MissingNodeError,
    NodeLookup,
    RlpItem,
    SecureTrie,
    Trie,
    keccak256,
    rlp_encode,
    verify_proof,
)

__all__ = [
    "EMPTY_CODE_HASH",
    "EMPTY_ROOT",
    "Account",
    "AccountState",
    "InvalidNodeError",
    "InvalidProofError",
    "MissingNodeError",
    "NodeLookup",
    "RlpItem",
    "SecureTrie",
    "StateRoot",
    "Trie",
    "encode_account",
    "keccak256",
    "rlp_encode",
    "verify_proof",
]
