"""SuperVM plugin: the peer-to-peer network over libp2p."""
