"""supervm bench erc20."""
