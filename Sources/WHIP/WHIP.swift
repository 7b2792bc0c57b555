/// Module `WHIP`: the WHIP endpoint (RFC 9725).
