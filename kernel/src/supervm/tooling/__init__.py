"""Developer tooling at the edges: the Ethereum ABI, compilers, artifacts and contract clients."""
