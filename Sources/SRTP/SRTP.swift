/// Module `SRTP`: SRTP/SRTCP sessions on libsrtp2.
