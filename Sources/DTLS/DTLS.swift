/// Module `DTLS`: DTLS 1.2 over memory BIOs with OpenSSL, sans-IO.
