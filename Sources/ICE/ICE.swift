/// Module `ICE`: STUN messages (RFC 8489) and the ICE agent (RFC 8445), sans-IO.
