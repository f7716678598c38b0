"""The five Host Factory operations as REST endpoints (hostfactory-protocol.md)."""
