"""SuperVM plugin: EVM backends (revm through pyrevm, and py-evm) in the one world state."""
